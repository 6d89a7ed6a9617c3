/**
 * @module
 * Runs the app on one of two engines:
 * - "sendfile": mesh's own HTTP/1.1 server (src/net), which hands file bodies
 *   to the kernel with sendfile(2), so large files go out at nginx speed;
 * - "deno": Deno.serve (hyper), which copies file bodies through JS.
 * The handler info (client address) is passed to Hono as its bindings, where
 * the routes read it; both engines pass the same shape.
 */
import { getLogger } from "@logtape/logtape";
import { listenHttp } from "../net/mod.ts";
import type { HttpApp } from "./app.ts";

const log = getLogger(["mesh", "http"]);

export const HttpEngine = {
  Deno: "deno",
  Sendfile: "sendfile",
} as const;
export type HttpEngine = typeof HttpEngine[keyof typeof HttpEngine];

/**
 * The engine used when none is asked for. bench/http.ts (same run, vs nginx
 * with sendfile, two runs): sendfile 0.91-0.92x nginx on a 64 MiB file and
 * 0.98-1.02x on 4 KiB req/s; deno 0.52-0.73x and 0.97-1.00x.
 */
export const DEFAULT_ENGINE: HttpEngine = HttpEngine.Sendfile;

export interface ServeOptions {
  /** Address to bind; "0.0.0.0" for all. */
  readonly hostname: string;
  /** Port; 0 picks a free one (tests). */
  readonly port: number;
  readonly signal?: AbortSignal;
  /**
   * Server engine; default DEFAULT_ENGINE. "sendfile" binds IPv4 only: other
   * addresses fall back to "deno".
   */
  readonly engine?: HttpEngine;
  // Connection limits and timeouts of the "sendfile" engine (HttpListenOptions
  // has the defaults); Deno.serve has no such settings and ignores them.
  readonly maxConnections?: number;
  /** Open connections at most from one client address. */
  readonly maxPerClient?: number;
  readonly headerTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  /** Link rate (bytes/s) behind a local address: large files are paced at fair shares of it. */
  readonly linkRate?: (localIp: number) => number;
}

export interface RunningHttp {
  /** The bound address. */
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Resolves when the server has stopped (after `signal` aborts). */
  readonly finished: Promise<void>;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function serveHttp(app: HttpApp, opts: ServeOptions): RunningHttp {
  const engine = opts.engine ?? DEFAULT_ENGINE;
  if (engine === HttpEngine.Sendfile && IPV4.test(opts.hostname)) {
    // The bindings carry the listener's counters as well, for /metrics (api_routes.ts).
    const server = listenHttp(
      (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr, httpStats: server.stats }),
      {
        hostname: opts.hostname,
        port: opts.port,
        ...(opts.signal ? { signal: opts.signal } : {}),
        maxConnections: opts.maxConnections,
        maxPerClient: opts.maxPerClient,
        headerTimeoutMs: opts.headerTimeoutMs,
        idleTimeoutMs: opts.idleTimeoutMs,
        ...(opts.linkRate ? { linkRate: opts.linkRate } : {}),
      },
    );
    log.info("http listening", { ...server.addr, engine });
    return { addr: server.addr, finished: server.finished };
  }
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onListen() {/* logged below with the real port */},
  }, (req, info) => app.fetch(req, info));
  const addr = server.addr as Deno.NetAddr;
  log.info("http listening", { hostname: addr.hostname, port: addr.port, engine: "deno" });
  return { addr: { hostname: addr.hostname, port: addr.port }, finished: server.finished };
}
