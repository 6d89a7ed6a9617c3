/**
 * @module
 * Health and Prometheus metrics (no node identities: open to every address).
 * The node API is in node_api_routes.ts.
 */
import type { Hono } from "hono";
import type { HttpEnv } from "./context.ts";
import type { HttpState } from "./state.ts";

function metricsText(state: HttpState, env?: HttpEnv["Bindings"]): string {
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
  counter(
    "mesh_http_claims_ignored_total",
    "Boot script requests whose mac/uuid contradicted the lease or a node's bound MAC.",
    c.claimsIgnored,
  );
  counter(
    "mesh_http_report_refusals_total",
    "Online reports refused (not from the node's own address).",
    c.reportRefusals,
  );
  counter(
    "mesh_http_api_refusals_total",
    "Node API requests refused by http.api_access.",
    c.apiRefusals,
  );
  // Connection counters come from the listener: the sendfile engine passes
  // them in the bindings (serve.ts); Deno.serve has none, so they are left out.
  const conns = env?.httpStats;
  if (conns !== undefined) {
    counter("mesh_http_connections_accepted_total", "TCP connections accepted.", conns.accepted);
    const refused = "mesh_http_connections_refused_total";
    lines.push(
      `# HELP ${refused} TCP connections refused: over the per-client or the global limit.`,
      `# TYPE ${refused} counter`,
      `${refused}{reason="per_client"} ${conns.refusedPerClient}`,
      `${refused}{reason="global"} ${conns.refusedGlobal}`,
    );
    counter(
      "mesh_http_timeouts_total",
      "Connections closed for a header, idle or send timeout.",
      conns.timeouts,
    );
    const active = "mesh_http_connections_active";
    lines.push(
      `# HELP ${active} TCP connections open.`,
      `# TYPE ${active} gauge`,
      `${active} ${conns.active}`,
    );
  }
  return lines.join("\n") + "\n";
}

export function mountApiRoutes(app: Hono<HttpEnv>, state: HttpState): void {
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get(
    "/metrics",
    (c) => c.text(metricsText(state, c.env), 200, { "content-type": "text/plain; version=0.0.4" }),
  );
  // the node API (list, detail, online report) is in node_api_routes.ts
}
