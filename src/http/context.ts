/**
 * @module
 * Hono environment of the app: Deno.serve passes its ServeHandlerInfo as the
 * bindings, which carries the client address; tests pass the same shape to
 * `app.request(url, init, { remoteAddr: { hostname } })`.
 */
import type { Context } from "hono";

export interface HttpEnv {
  Bindings: { remoteAddr?: { hostname?: string } } | undefined;
  Variables: { nodeId: string | undefined; bytes: number | undefined };
}

/** Client IPv4/IPv6 address (IPv4-mapped IPv6 reduced to IPv4), if known. */
export function clientIp(c: Context<HttpEnv>): string | undefined {
  const host = c.env?.remoteAddr?.hostname;
  if (host === undefined || host === "") return undefined;
  return host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
}
