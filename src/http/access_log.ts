/**
 * @module
 * One structured line per request: method, path, status, bytes, ms, client
 * ip, node id when known. `ms` is the time to the response head; streamed
 * bodies continue after it.
 */
import { getLogger } from "@logtape/logtape";
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { clientIp, type HttpEnv } from "./context.ts";
import type { HttpState } from "./state.ts";

const log = getLogger(["mesh", "http"]);

export function accessLog(state: HttpState): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const t0 = performance.now();
    await next();
    const status = c.res.status;
    const announced = c.var.bytes ?? Number(c.res.headers.get("content-length") ?? 0);
    const bytes = c.req.method === "HEAD" ? 0 : announced;
    state.counters.requests++;
    state.counters.bytes += bytes;
    if (status === 404) state.counters.notFound++;
    if (status >= 500) state.counters.errors++;
    // The pattern of the handler that answered ("/apkovl/:file"), never the
    // path itself; a request no route matched is "*" (this middleware's).
    const route = routePath(c);
    state.routes.count(route === "*" ? "unmatched" : route, status);
    log.info("request", {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status,
      bytes,
      ms: Math.round((performance.now() - t0) * 100) / 100,
      ip: clientIp(c) ?? null,
      nodeId: c.var.nodeId ?? null,
    });
  };
}
