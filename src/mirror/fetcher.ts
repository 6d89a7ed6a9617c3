/**
 * @module
 * Getting files from the upstream: an http(s) mirror or a local mirror tree
 * (a USB drive at an air-gapped site). Every HTTP request is bounded: the
 * response head must come within `headersTimeoutMs`, and the body may not go
 * silent for longer than `stallTimeoutMs`; a failed attempt (network error,
 * stall, any status but 200/206/304) is retried with a growing pause, and the
 * last failure becomes one clear error line. Downloads to a file resume a
 * partial file with a Range request, so an interrupted run loses nothing.
 */

/** How hard to try. */
export interface FetchPolicy {
  /** Tries per file in all: the first one plus retries. */
  readonly attempts: number;
  readonly headersTimeoutMs: number;
  readonly stallTimeoutMs: number;
  /** Pause before the first retry; doubled for each one after. */
  readonly backoffMs: number;
}

export const DEFAULT_POLICY: FetchPolicy = {
  attempts: 4,
  headersTimeoutMs: 30_000,
  stallTimeoutMs: 30_000,
  backoffMs: 1_000,
};

/** A file the upstream would not give. The message is one line naming the URL. */
export class FetchError extends Error {
  override name = "FetchError";
  constructor(readonly url: string, readonly status: number | undefined, message: string) {
    super(message);
  }
}

/** HTTP validators of a copy we already have, for a conditional GET. */
export interface Validators {
  readonly etag?: string;
  readonly lastModified?: string;
}

/** Where files come from: `<base>/<rel>`. */
export interface Upstream {
  readonly base: string;
  readonly local: boolean;
  where(rel: string): string;
}

/** `https://…` or `http://…` is a mirror; anything else is a directory. */
export function upstream(from: string): Upstream {
  const base = from.replace(/\/+$/, "");
  const local = !/^https?:\/\//i.test(base);
  return { base, local, where: (rel) => `${base}/${rel}` };
}

class Stalled extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What one attempt ended with. */
type Outcome =
  | { readonly ok: true; readonly status: number; readonly validators: Validators }
  | { readonly ok: false; readonly status?: number; readonly why: string };

/** One GET, the body streamed into `sink`. Never throws for network trouble. */
async function attempt(
  url: string,
  headers: Record<string, string>,
  policy: FetchPolicy,
  sink: (status: number, res: Response) => ((chunk: Uint8Array) => Promise<void>) | null,
): Promise<Outcome> {
  const ac = new AbortController();
  let timer = setTimeout(
    () => ac.abort(new Stalled(`no response within ${policy.headersTimeoutMs / 1000} s`)),
    policy.headersTimeoutMs,
  );
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    clearTimeout(timer);
    const validators = {
      ...(res.headers.get("etag") ? { etag: res.headers.get("etag")! } : {}),
      ...(res.headers.get("last-modified")
        ? { lastModified: res.headers.get("last-modified")! }
        : {}),
    };
    if (res.status === 304) {
      await res.body?.cancel();
      return { ok: true, status: 304, validators };
    }
    const write = res.status === 200 || res.status === 206 ? sink(res.status, res) : null;
    if (!write) {
      await res.body?.cancel();
      return { ok: false, status: res.status, why: `HTTP ${res.status} ${res.statusText}`.trim() };
    }
    const reader = res.body!.getReader();
    for (;;) {
      timer = setTimeout(
        () => ac.abort(new Stalled(`stalled: no data for ${policy.stallTimeoutMs / 1000} s`)),
        policy.stallTimeoutMs,
      );
      const { done, value } = await reader.read();
      clearTimeout(timer);
      if (done) break;
      await write(value);
    }
    return { ok: true, status: res.status, validators };
  } catch (e) {
    const reason = ac.signal.aborted ? ac.signal.reason : e;
    return { ok: false, why: reason instanceof Error ? reason.message : String(reason) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `once` up to `policy.attempts` times; `done` says an outcome ends the loop. */
async function retrying(
  url: string,
  policy: FetchPolicy,
  once: () => Promise<Outcome>,
  done: (o: Outcome) => boolean = (o) => o.ok,
): Promise<Outcome> {
  let last: Outcome = { ok: false, why: "not tried" };
  for (let i = 0; i < policy.attempts; i++) {
    if (i > 0) await sleep(policy.backoffMs * 2 ** (i - 1));
    last = await once();
    if (done(last)) return last;
  }
  const why = last.ok ? `HTTP ${last.status}` : last.why;
  const tries = policy.attempts === 1 ? "1 attempt" : `${policy.attempts} attempts`;
  throw new FetchError(url, last.status, `GET ${url}: ${why} (${tries})`);
}

export type BytesResult =
  | { readonly status: "ok"; readonly bytes: Uint8Array; readonly validators: Validators }
  | { readonly status: "not-modified" }
  | { readonly status: "missing" };

/**
 * A small file into memory (an index, a checksum). `optional`: a 404 (or a
 * missing local file) is an answer, "missing", not retried. `validators`
 * make the GET conditional: "not-modified" when the upstream says 304.
 */
export async function getBytes(
  up: Upstream,
  rel: string,
  policy: FetchPolicy,
  opts: { optional?: boolean; validators?: Validators } = {},
): Promise<BytesResult> {
  const url = up.where(rel);
  if (up.local) {
    try {
      return { status: "ok", bytes: await Deno.readFile(url), validators: {} };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        if (opts.optional) return { status: "missing" };
        throw new FetchError(url, 404, `${url}: not found`);
      }
      throw new FetchError(url, undefined, `${url}: ${(e as Error).message}`);
    }
  }
  const headers: Record<string, string> = {};
  if (opts.validators?.etag) headers["if-none-match"] = opts.validators.etag;
  if (opts.validators?.lastModified) headers["if-modified-since"] = opts.validators.lastModified;
  let parts: Uint8Array[] = [];
  const o = await retrying(url, policy, () => {
    parts = [];
    return attempt(url, headers, policy, () => (chunk) => {
      parts.push(chunk);
      return Promise.resolve();
    });
  }, (o) => o.ok || (opts.optional === true && o.status === 404));
  if (!o.ok) return { status: "missing" };
  if (o.status === 304) return { status: "not-modified" };
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { status: "ok", bytes, validators: o.validators };
}

/**
 * A file into `dest`, resuming what a previous attempt or run left there
 * (Range: bytes=<have>-). `size`, when known, stops a complete partial file
 * from being asked for again and a longer one from being kept. `onBytes`
 * hears every chunk written (for the progress bar). Returns the validators.
 */
export async function getFile(
  up: Upstream,
  rel: string,
  dest: string,
  policy: FetchPolicy,
  opts: { size?: number; onBytes?: (n: number) => void; validators?: Validators } = {},
): Promise<{ readonly notModified: boolean; readonly validators: Validators }> {
  const url = up.where(rel);
  if (up.local) {
    try {
      await Deno.copyFile(url, dest);
      const info = await Deno.stat(dest);
      opts.onBytes?.(info.size);
      return { notModified: false, validators: {} };
    } catch (e) {
      const missing = e instanceof Deno.errors.NotFound;
      throw new FetchError(
        url,
        missing ? 404 : undefined,
        `${url}: ${missing ? "not found" : (e as Error).message}`,
      );
    }
  }
  const o = await retrying(url, policy, async () => {
    let have = 0;
    try {
      have = (await Deno.stat(dest)).size;
    } catch { /* no partial file yet */ }
    if (opts.size !== undefined && have > opts.size) {
      await Deno.truncate(dest, 0);
      have = 0;
    }
    if (opts.size !== undefined && have === opts.size && have > 0) {
      return { ok: true, status: 200, validators: {} };
    }
    const headers: Record<string, string> = have > 0 ? { range: `bytes=${have}-` } : {};
    if (have === 0 && opts.validators?.etag) headers["if-none-match"] = opts.validators.etag;
    const file = await Deno.open(dest, { create: true, write: true });
    try {
      const o = await attempt(url, headers, policy, (status, res) => {
        const from = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "");
        // A 200 (the server ignored Range) or a range that is not ours starts over.
        const offset = status === 206 && from && Number(from[1]) === have ? have : 0;
        file.truncateSync(offset);
        file.seekSync(offset, Deno.SeekMode.Start);
        return async (chunk) => {
          let rest = chunk;
          while (rest.length > 0) rest = rest.subarray(await file.write(rest));
          opts.onBytes?.(chunk.length);
        };
      });
      // 416: what we have is not a prefix of what is there now; start over next time.
      if (!o.ok && o.status === 416) await file.truncate(0);
      return o;
    } finally {
      file.close();
    }
  });
  return { notModified: o.ok && o.status === 304, validators: o.ok ? o.validators : {} };
}
