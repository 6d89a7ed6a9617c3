/**
 * @module
 * HTTP/1.1 response heads (pure): status line, the app's headers minus
 * hop-by-hop ones, and the framing this connection decided on.
 */

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** Reason phrase for a status code ("" when unknown: the phrase is optional). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

/** How the body is delimited on the wire. */
export const Framing = {
  /** No body at all (HEAD, 1xx, 204, 304): the app's Content-Length is kept as is. */
  None: "none",
  /** Content-Length: exactly `length` bytes follow. */
  Length: "length",
  /** Transfer-Encoding: chunked (HTTP/1.1 clients, length unknown). */
  Chunked: "chunked",
  /** The body ends when the connection closes (HTTP/1.0 clients, length unknown). */
  Close: "close",
} as const;
export type Framing = typeof Framing[keyof typeof Framing];

/** Headers the connection owns; the app's values for these are dropped. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "te",
  "trailer",
]);

export interface HeadSpec {
  readonly status: number;
  readonly statusText?: string;
  /** The app's headers (or pairs with lower-case names, in Headers order). */
  readonly headers: Headers | Iterable<[string, string]>;
  readonly framing: Framing;
  /** Body length for Framing.Length. */
  readonly length?: number;
  readonly keepAlive: boolean;
  /** HTTP/1.0 client: keep-alive must be announced. */
  readonly http10: boolean;
  /** Value of the Date header. */
  readonly date: string;
}

/** The response head as a string of Latin-1 characters (one per byte). */
export function responseHead(spec: HeadSpec): string {
  const reason = spec.statusText !== undefined && spec.statusText !== ""
    ? spec.statusText
    : reasonPhrase(spec.status);
  let s = `HTTP/1.1 ${spec.status} ${reason}\r\n`;
  let sawDate = false;
  const dropLength = spec.framing !== Framing.None || spec.status === 204 || spec.status < 200;
  const add = (value: string, name: string) => {
    if (HOP_BY_HOP.has(name)) return;
    if (name === "content-length" && dropLength) return;
    if (name === "date") sawDate = true;
    s += `${name}: ${value}\r\n`;
  };
  // Headers.forEach is ~7x cheaper than its iterator in Deno 2.9 (same pairs, same order)
  if (spec.headers instanceof Headers) spec.headers.forEach(add);
  else for (const [name, value] of spec.headers) add(value, name);
  if (!sawDate) s += `date: ${spec.date}\r\n`;
  if (spec.framing === Framing.Length) s += `content-length: ${spec.length ?? 0}\r\n`;
  else if (spec.framing === Framing.Chunked) s += "transfer-encoding: chunked\r\n";
  if (!spec.keepAlive || spec.framing === Framing.Close) s += "connection: close\r\n";
  else if (spec.http10) s += "connection: keep-alive\r\n";
  return s + "\r\n";
}

const utf8 = new TextEncoder();

/** Writes a Latin-1 string as bytes (chars above 0xff cannot occur: Headers reject them). */
export function latin1Bytes(s: string): Uint8Array<ArrayBuffer> {
  // the native encoder is exact when every char is ASCII (same length), the usual case
  const ascii = utf8.encode(s);
  if (ascii.length === s.length) return ascii;
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** A complete minimal response for protocol errors (always closes the connection). */
export function errorResponse(status: number, date: string): Uint8Array<ArrayBuffer> {
  const body = `${reasonPhrase(status).toLowerCase() || "error"}\n`;
  return latin1Bytes(
    responseHead({
      status,
      headers: [["content-type", "text/plain; charset=utf-8"]],
      framing: Framing.Length,
      length: body.length,
      keepAlive: false,
      http10: false,
      date,
    }) + body,
  );
}
