/**
 * @module
 * Read-only JSON for the CLI and the status page, plus health and metrics.
 */
import type { Hono } from "hono";
import type { HttpEnv } from "./context.ts";
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
  app.get("/api/v1/nodes/:id", (c) => {
    const id = c.req.param("id");
    const node = state.deps.registry.get(id);
    if (node === undefined) return c.json({ error: "node not found", id }, 404);
    if (node.id !== null) c.set("nodeId", node.id);
    return c.json(node);
  });
}
