/**
 * @module
 * The HTTP service's own metric families: requests by route and status (the
 * route is Hono's registered pattern, so a label never carries a node id or
 * a file name), the older per-purpose counters, and the listener's
 * connection counters when the sendfile engine passes them.
 */
import type { ConnectionCounters } from "./context.ts";
import type { MetricFamily, Sample } from "./metrics_text.ts";
import type { Counters } from "./state.ts";

/** Route × status pairs kept; more fold into route "other" (a bound, whatever comes). */
export const MAX_ROUTE_SERIES = 256;

/** Requests counted by route pattern and status code. */
export class RouteCounter {
  readonly #counts = new Map<string, { route: string; status: string; n: number }>();

  count(route: string, status: number): void {
    let key = `${route} ${status}`;
    if (!this.#counts.has(key) && this.#counts.size >= MAX_ROUTE_SERIES) {
      route = "other";
      key = `other ${status}`;
    }
    const e = this.#counts.get(key);
    if (e) e.n++;
    else this.#counts.set(key, { route, status: String(status), n: 1 });
  }

  samples(): Sample[] {
    return [...this.#counts.values()].map((e) => ({
      labels: { route: e.route, status: e.status },
      value: e.n,
    }));
  }
}

const counter = (name: string, help: string, value: number): MetricFamily => ({
  name,
  help,
  type: "counter",
  samples: [{ value }],
});

export function httpFamilies(
  c: Counters,
  routes: RouteCounter,
  conns: ConnectionCounters | undefined,
): MetricFamily[] {
  const out: MetricFamily[] = [
    {
      name: "mesh_http_requests_by_route_total",
      help: "HTTP requests answered, by route pattern and status code.",
      type: "counter",
      samples: routes.samples(),
    },
    counter("mesh_http_requests_total", "HTTP requests answered.", c.requests),
    counter("mesh_http_response_bytes_total", "Body bytes announced in responses.", c.bytes),
    counter("mesh_http_boot_scripts_total", "iPXE boot scripts rendered.", c.scripts),
    counter("mesh_http_overlays_total", "Overlays sent to identified nodes.", c.overlays),
    counter(
      "mesh_http_overlay_refusals_total",
      "Overlay requests refused by the access policy.",
      c.overlayRefusals,
    ),
    counter("mesh_http_not_found_total", "Requests answered 404.", c.notFound),
    counter("mesh_http_errors_total", "Requests that failed with 500.", c.errors),
    counter(
      "mesh_http_claims_ignored_total",
      "Boot script requests whose mac/uuid contradicted the lease or a node's bound MAC.",
      c.claimsIgnored,
    ),
    counter(
      "mesh_http_report_refusals_total",
      "Online reports refused (not from the node's own address).",
      c.reportRefusals,
    ),
    counter(
      "mesh_http_api_refusals_total",
      "Node API requests refused by http.api_access.",
      c.apiRefusals,
    ),
    counter(
      "mesh_http_status_refusals_total",
      "Status page and live stream requests refused by http.status_page.",
      c.statusRefusals,
    ),
  ];
  // Connection counters come from the listener: the sendfile engine passes
  // them in the bindings (serve.ts); Deno.serve has none, so they are left out.
  if (conns !== undefined) {
    out.push(
      counter("mesh_http_connections_accepted_total", "TCP connections accepted.", conns.accepted),
      {
        name: "mesh_http_connections_refused_total",
        help: "TCP connections refused: over the per-client or the global limit.",
        type: "counter",
        samples: [
          { labels: { reason: "per_client" }, value: conns.refusedPerClient },
          { labels: { reason: "global" }, value: conns.refusedGlobal },
        ],
      },
      counter(
        "mesh_http_timeouts_total",
        "Connections closed for a header, idle or send timeout.",
        conns.timeouts,
      ),
      {
        name: "mesh_http_connections_active",
        help: "TCP connections open.",
        type: "gauge",
        samples: [{ value: conns.active }],
      },
      counter(
        "mesh_http_responses_aborted_total",
        "Responses cut short because the client went away.",
        conns.aborted ?? 0,
      ),
      {
        name: "mesh_decode_errors_total",
        help: "Datagrams or requests that could not be decoded, by protocol.",
        type: "counter",
        samples: [{ labels: { protocol: "http" }, value: conns.malformed ?? 0 }],
      },
    );
  }
  return out;
}
