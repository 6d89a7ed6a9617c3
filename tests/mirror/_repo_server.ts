/**
 * @module
 * Serves a test repository over HTTP on 127.0.0.1 (port 0) as a mirror does:
 * GET with Range (206) and ETag / If-None-Match (304). Faults can be set per
 * path to play a bad upstream: a status (404, 500), a stall (headers and a
 * first chunk, then silence), a hang (no response head at all), a cut
 * connection (the body ends short of its content-length), or corrupted bytes. Every
 * request is logged so tests can count what was fetched.
 */

/** What the server does to the next `times` requests of a path. */
export type Fault =
  | { readonly kind: "status"; readonly status: number; times: number }
  | { readonly kind: "stall"; times: number }
  | { readonly kind: "hang"; times: number }
  | { readonly kind: "cut"; readonly after: number; times: number }
  | { readonly kind: "corrupt"; times: number };

export interface Served {
  readonly url: string;
  /** Paths (without the leading "/") of every request, with the status sent. */
  readonly log: { path: string; status: number; range?: string }[];
  readonly faults: Map<string, Fault>;
  /** How many GETs answered 200/206 for paths matching `re`. */
  count(re: RegExp): number;
  close(): Promise<void>;
}

export function serveRepo(root: string): Served {
  const log: Served["log"] = [];
  const faults = new Map<string, Fault>();
  const hanging = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const closing = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
    const range = req.headers.get("range") ?? undefined;
    const answer = (status: number, body?: BodyInit | null, headers?: HeadersInit) => {
      log.push({ path, status, ...(range ? { range } : {}) });
      return new Response(body ?? null, { status, ...(headers ? { headers } : {}) });
    };
    // A fault applies `times` times (Infinity: for good), then the path is healthy again.
    const fault = faults.get(path);
    let active: Fault | undefined;
    if (fault && fault.times > 0) {
      active = fault;
      if (--fault.times === 0) faults.delete(path);
    }
    if (active?.kind === "status") return answer(active.status, "fault\n");
    if (active?.kind === "hang") {
      await closing.promise;
      return answer(503);
    }
    if (path.includes("..")) return answer(400);
    let bytes: Uint8Array;
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(`${root}/${path}`);
      if (!info.isFile) return answer(404, "not found\n");
      bytes = await Deno.readFile(`${root}/${path}`);
    } catch {
      return answer(404, "not found\n");
    }
    const etag = `"${info.size}-${info.mtime?.getTime() ?? 0}-${info.ino ?? 0}"`;
    if (req.headers.get("if-none-match") === etag) return answer(304, null, { etag });
    let start = 0;
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) start = Math.min(Number(m[1]), bytes.length);
    let body = bytes.subarray(start);
    if (active?.kind === "corrupt") {
      body = body.slice();
      body[Math.floor(body.length / 2)]! ^= 0x55;
    }
    const headers = {
      etag,
      "content-length": String(body.length),
      ...(m ? { "content-range": `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    };
    const status = m ? 206 : 200;
    if (active?.kind === "stall" || active?.kind === "cut") {
      const first = active.kind === "cut" ? body.subarray(0, active.after) : body.subarray(0, 16);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(first.slice());
          if (active.kind === "cut") c.close(); // ends short of content-length
          else hanging.add(c);
        },
        cancel() {},
      });
      return answer(status, stream, headers);
    }
    return answer(status, body as Uint8Array<ArrayBuffer>, headers);
  });
  const addr = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    log,
    faults,
    count: (re) =>
      log.filter((l) => re.test(l.path) && (l.status === 200 || l.status === 206)).length,
    close: async () => {
      closing.resolve();
      for (const c of hanging) {
        try {
          c.error(new Error("server closing"));
        } catch { /* already cancelled by the client */ }
      }
      await server.shutdown();
    },
  };
}
