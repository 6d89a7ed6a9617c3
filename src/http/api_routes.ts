/**
 * @module
 * JSON for the CLI and the status page (read-only), the one write a booted
 * node makes (its online report), plus health and metrics.
 */
import type { Context, Hono } from "hono";
import { isNodeId } from "../boot/mod.ts";
import { Stage } from "../store/mod.ts";
import { clientIp, type HttpEnv } from "./context.ts";
import type { HttpState } from "./state.ts";

function metricsText(state: HttpState): string {
  const c = state.counters;
  const lines: string[] = [];
  const counter = (name: string, help: string, value: number) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`);
  };
  counter("mesh_http_requests_total", "HTTP requests answered.", c.requests);
  counter("mesh_http_response_bytes_total", "Body bytes announced in responses.", c.bytes);
  counter("mesh_http_boot_scripts_total", "iPXE boot scripts rendered.", c.scripts);
  counter("mesh_http_overlays_total", "Overlays sent to identified nodes.", c.overlays);
  counter(
    "mesh_http_overlay_refusals_total",
    "Overlay requests refused by the access policy.",
    c.overlayRefusals,
  );
  counter("mesh_http_not_found_total", "Requests answered 404.", c.notFound);
  counter("mesh_http_errors_total", "Requests that failed with 500.", c.errors);
  return lines.join("\n") + "\n";
}

export function mountApiRoutes(app: Hono<HttpEnv>, state: HttpState): void {
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get(
    "/metrics",
    (c) => c.text(metricsText(state), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  app.get("/api/v1/nodes", (c) => c.json(state.deps.registry.list()));
  // A booted node reports in (its overlay's local.d script, or the e2e init):
  // the last stage of a boot. GET as well as POST, because busybox wget in an
  // initramfs or a minimal overlay can only GET.
  const online = (c: Context<HttpEnv>) => {
    const id = c.req.query("id") ?? "";
    if (!isNodeId(id)) return c.json({ error: "id must be 8 lower-case hex characters" }, 400);
    c.set("nodeId", id);
    const ip = clientIp(c);
    state.deps.registry.record({
      nodeId: id,
      ...(ip !== undefined ? { ip } : {}),
      stage: Stage.Online,
      source: "node",
      at: (state.deps.clock ?? Date.now)(),
    });
    return c.body(null, 204);
  };
  app.get("/api/v1/report/online", online);
  app.post("/api/v1/report/online", online);
  app.get("/api/v1/nodes/:id", (c) => {
    const id = c.req.param("id");
    const node = state.deps.registry.get(id);
    if (node === undefined) return c.json({ error: "node not found", id }, 404);
    if (node.id !== null) c.set("nodeId", node.id);
    return c.json(node);
  });
}
