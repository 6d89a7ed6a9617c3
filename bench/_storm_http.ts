/**
 * @module
 * HTTP GETs of bench/storm.ts's nodes: through the node's own client (bound
 * to its leased address), bodies read and counted, kept only for scripts.
 * A failed attempt (network error, non-2xx, short body) is counted and
 * retried a second later, at most ATTEMPTS times, as long as the node's
 * deadline allows.
 */

export interface HttpGot {
  readonly bytes: number;
  /** Attempts that failed before the one that counted. */
  readonly errors: number;
  readonly text?: string;
}

/** Thrown when every attempt failed; says how many did. */
export class HttpFailed extends Error {
  constructor(message: string, readonly errors: number) {
    super(message);
  }
}

const ATTEMPTS = 3;
/** Longest a single request may take (iPXE gives up on a stalled connection too). */
const REQUEST_MS = 300_000;

async function once(
  client: Deno.HttpClient,
  url: string,
  signal: AbortSignal,
  keep: boolean,
  agent: string,
): Promise<{ bytes: number; text?: string }> {
  const res = await fetch(url, {
    client,
    signal,
    // iPXE and busybox wget ask for no compression; Deno's fetch would.
    headers: { "accept-encoding": "identity", "user-agent": agent },
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} for ${url}`);
  }
  const want = Number(res.headers.get("content-length") ?? NaN);
  let bytes = 0;
  const chunks: Uint8Array[] = [];
  if (res.body !== null) {
    for await (const chunk of res.body) {
      bytes += chunk.length;
      if (keep) chunks.push(chunk);
    }
  }
  if (Number.isFinite(want) && bytes !== want) throw new Error(`short body ${bytes}/${want}`);
  if (!keep) return { bytes };
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return { bytes, text: new TextDecoder().decode(all) };
}

/** GETs `url`; throws after ATTEMPTS failures or once `deadline` (performance.now) passes. */
export async function httpGet(
  client: Deno.HttpClient,
  url: string,
  deadline: number,
  keep: boolean,
  arch: number,
): Promise<HttpGot> {
  const agent = `iPXE/1.21.1+ (${arch === 0 ? "pcbios" : "efi"})`;
  let errors = 0;
  let last = "";
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const left = deadline - performance.now();
    if (left <= 0) break;
    try {
      const got = await once(
        client,
        url,
        AbortSignal.timeout(Math.min(left, REQUEST_MS)),
        keep,
        agent,
      );
      return { ...got, errors };
    } catch (e) {
      errors++;
      last = e instanceof Error ? e.message : String(e);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw new HttpFailed(`GET ${url} failed ${errors} times: ${last}`, errors);
}
