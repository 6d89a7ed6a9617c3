/**
 * @module
 * Tells whether Deno holds a Response body as bytes or a string rather than a
 * stream, without touching `res.body` (which turns a static body into a
 * stream: reading that costs ~10 µs a response, most of a small request).
 * For a static body `res.bytes()` is cheap and its size is already bounded.
 *
 * This peeks at Deno's internal response record (ext/fetch/23_response.js,
 * Deno 2.9). Any shape it does not recognise answers false, and the caller
 * takes the public stream path: an upgrade can cost speed, never correctness.
 * http_static_body_test.ts fails if the peek stops working.
 */

interface Peek {
  readonly response: symbol;
  readonly lazy: symbol | undefined;
}

let peek: Peek | null | undefined;

function symbols(res: Response): Peek | null {
  const all = Object.getOwnPropertySymbols(res);
  const response = all.find((s) => s.description === "response");
  if (response === undefined) return null;
  return { response, lazy: all.find((s) => s.description === "lazy static body") };
}

/** True when the body is known to be static (bytes or string). False means "use res.body". */
export function hasStaticBody(res: Response): boolean {
  if (peek === undefined) peek = symbols(res);
  if (peek === null) return false;
  const r = res as unknown as Record<symbol, unknown>;
  if (peek.lazy !== undefined && typeof r[peek.lazy] === "string") return true;
  const inner = r[peek.response];
  if (typeof inner !== "object" || inner === null) return false;
  const body = (inner as { body?: unknown }).body;
  if (typeof body !== "object" || body === null) return false;
  const sos = (body as { streamOrStatic?: unknown }).streamOrStatic;
  if (typeof sos !== "object" || sos === null || sos instanceof ReadableStream) return false;
  const s = sos as { body?: unknown; consumed?: unknown };
  return s.consumed === false && (s.body instanceof Uint8Array || typeof s.body === "string");
}
