/**
 * @module
 * Hono environment of the app: Deno.serve passes its ServeHandlerInfo as the
 * bindings, which carries the client address; tests pass the same shape to
 * `app.request(url, init, { remoteAddr: { hostname } })`. The sendfile engine
 * also passes its connection counters, for /metrics.
 */
import type { Context } from "hono";

/** What the sendfile engine counts of its connections. */
export interface ConnectionCounters {
  readonly accepted: number;
  readonly refusedPerClient: number;
  readonly refusedGlobal: number;
  readonly active: number;
  readonly timeouts: number;
  /** Requests the protocol layer answered 4xx/5xx itself (unreadable heads). */
  readonly malformed?: number;
  /** Responses cut short because the client went away. */
  readonly aborted?: number;
}

export interface HttpEnv {
  Bindings: { remoteAddr?: { hostname?: string }; httpStats?: ConnectionCounters } | undefined;
  Variables: { nodeId: string | undefined; bytes: number | undefined };
}

/** Client IPv4/IPv6 address (IPv4-mapped IPv6 reduced to IPv4), if known. */
export function clientIp(c: Context<HttpEnv>): string | undefined {
  const host = c.env?.remoteAddr?.hostname;
  if (host === undefined || host === "") return undefined;
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}
