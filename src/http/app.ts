/**
 * @module
 * The HTTP boot service as a Hono app (no listening here: `serveHttp` does
 * that, and tests call `app.request`).
 */
import { getLogger } from "@logtape/logtape";
import { Hono } from "hono";
import { accessLog } from "./access_log.ts";
import { mountApiRoutes } from "./api_routes.ts";
import { mountBootRoutes } from "./boot_routes.ts";
import { mountNodeApiRoutes } from "./node_api_routes.ts";
import type { HttpEnv } from "./context.ts";
import type { AppDeps } from "./deps.ts";
import { mountOverlayRoutes } from "./overlay_routes.ts";
import { createState } from "./state.ts";
import { mountStaticRoutes } from "./static_routes.ts";
import { createLive, mountStatusRoutes } from "./status_routes.ts";

const log = getLogger(["mesh", "http"]);

export type HttpApp = Hono<HttpEnv>;

export function createApp(deps: AppDeps): HttpApp {
  const state = createState(deps);
  const live = createLive(state);
  const app = new Hono<HttpEnv>();
  app.use("*", accessLog(state));
  mountBootRoutes(app, state);
  mountOverlayRoutes(app, state);
  mountStaticRoutes(app, state);
  mountNodeApiRoutes(app, state);
  mountStatusRoutes(app, state, live);
  mountApiRoutes(app, state, live);
  app.notFound((c) => c.text("not found\n", 404));
  app.onError((err, c) => {
    log.error("request failed", { path: new URL(c.req.url).pathname, error: String(err) });
    return c.text("internal error\n", 500);
  });
  return app;
}
