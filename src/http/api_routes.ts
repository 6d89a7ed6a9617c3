/**
 * @module
 * Health and Prometheus metrics (no node identities: open to every address;
 * no label carries a MAC, an address or a node id). /metrics puts together
 * the HTTP service's own families, the node registry's (nodes by stage,
 * boot-stage durations), the live stream's, and whatever the daemon passes
 * for its other services (DHCP, TFTP, process). The node API is in
 * node_api_routes.ts.
 */
import type { Hono } from "hono";
import type { HttpEnv } from "./context.ts";
import { STAGE_ORDER } from "./deps.ts";
import { httpFamilies } from "./http_metrics.ts";
import { type MetricFamily, renderMetrics } from "./metrics_text.ts";
import type { HttpState } from "./state.ts";
import type { Live } from "./status_routes.ts";

function nodeFamilies(state: HttpState, live: Live): MetricFamily[] {
  const perStage = new Map<string, number>(STAGE_ORDER.map((s) => [s, 0]));
  for (const n of state.deps.registry.list()) {
    perStage.set(n.stage, (perStage.get(n.stage) ?? 0) + 1);
  }
  const hub = live.hub.counters;
  const counter = (name: string, help: string, value: number): MetricFamily => ({
    name,
    help,
    type: "counter",
    samples: [{ value }],
  });
  return [
    {
      name: "mesh_nodes",
      help: "Nodes known, by the stage of their current boot (MACs not identified yet included).",
      type: "gauge",
      samples: [...perStage].map(([stage, value]) => ({ labels: { stage }, value })),
    },
    live.timings.family(),
    {
      name: "mesh_http_live_streams",
      help: "Status page live streams open.",
      type: "gauge",
      samples: [{ value: live.hub.clients }],
    },
    counter(
      "mesh_http_live_streams_refused_total",
      "Live streams refused: at the cap.",
      hub.refused,
    ),
    counter(
      "mesh_http_live_streams_dropped_total",
      "Live streams dropped for reading too slowly.",
      hub.dropped,
    ),
    counter("mesh_http_live_messages_total", "Node updates sent on live streams.", hub.messages),
  ];
}

export function mountApiRoutes(app: Hono<HttpEnv>, state: HttpState, live: Live): void {
  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/metrics", (c) => {
    const families = [
      ...httpFamilies(state.counters, state.routes, c.env?.httpStats),
      ...nodeFamilies(state, live),
      ...(state.deps.status?.metrics?.() ?? []),
    ];
    return c.text(renderMetrics(families), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    });
  });
  // the node API (list, detail, online report) is in node_api_routes.ts
}
