/**
 * @module
 * Runs the app on Deno.serve. The handler info (client address) is passed to
 * Hono as its bindings, where the routes read it.
 */
import { getLogger } from "@logtape/logtape";
import type { HttpApp } from "./app.ts";

const log = getLogger(["mesh", "http"]);

export interface ServeOptions {
  /** Address to bind; "0.0.0.0" for all. */
  readonly hostname: string;
  /** Port; 0 picks a free one (tests). */
  readonly port: number;
  readonly signal?: AbortSignal;
}

export interface RunningHttp {
  /** The bound address. */
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Resolves when the server has stopped (after `signal` aborts). */
  readonly finished: Promise<void>;
}

export function serveHttp(app: HttpApp, opts: ServeOptions): RunningHttp {
  const server = Deno.serve({
    hostname: opts.hostname,
    port: opts.port,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onListen() {/* logged below with the real port */},
  }, (req, info) => app.fetch(req, info));
  const addr = server.addr as Deno.NetAddr;
  log.info("http listening", { hostname: addr.hostname, port: addr.port });
  return { addr: { hostname: addr.hostname, port: addr.port }, finished: server.finished };
}
