/**
 * @module
 * The status page at `/` and its live stream at `/api/v1/events/stream`
 * (both read-only, both behind http.status_page), and the live machinery
 * they share with /metrics: the node feed, the boot-stage timings and the
 * bounded SSE hub.
 */
import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { gzipSync } from "node:zlib";
import { LogThrottle } from "../log.ts";
import { clientIp, type HttpEnv } from "./context.ts";
import type { ApiAccess, NodeSummary } from "./deps.ts";
import { BootTimings, NodeFeed } from "./node_feed.ts";
import { parseTableQuery, selectRows } from "./node_table.ts";
import { SseHub } from "./sse_hub.ts";
import type { HttpState } from "./state.ts";
import { STATUS_CSP } from "./status_assets.ts";
import { statusRefusal, tokenLogin } from "./status_access.ts";
import { renderStatusPage } from "./status_page.tsx";
import { nodeRow, type SegmentView, segmentView } from "./status_view.ts";

const log = getLogger(["mesh", "http"]);
const throttle = new LogThrottle();

export const STREAM_PATH = "/api/v1/events/stream";
const LOOPBACK: ApiAccess = { mode: "management", management: [] };
/** How long the stream reuses one reading of the network map. */
const SEGMENTS_TTL_MS = 2000;

/** What the page, the stream and /metrics share. */
export interface Live {
  readonly feed: NodeFeed;
  readonly timings: BootTimings;
  readonly hub: SseHub;
}

export function createLive(state: HttpState): Live {
  const signal = state.deps.signal;
  const feed = new NodeFeed(state.deps.registry, signal);
  const timings = new BootTimings(feed, state.now);
  const hub = new SseHub(signal ? { signal } : {});
  let cache: { at: number; segments: SegmentView[] } | undefined;
  const segments = () => {
    const now = state.now();
    if (cache === undefined || now - cache.at > SEGMENTS_TTL_MS) {
      cache = { at: now, segments: readSegments(state) };
    }
    return cache.segments;
  };
  feed.subscribe((rows: readonly NodeSummary[]) => {
    if (hub.clients === 0) return;
    const now = state.now();
    for (const n of rows) {
      const row = nodeRow(n, segments(), now);
      hub.publish(row.key, JSON.stringify(row));
    }
  });
  return { feed, timings, hub };
}

/** The stored map's segments; a broken row is skipped, a failing source shows none. */
export function readSegments(state: HttpState): SegmentView[] {
  try {
    return (state.deps.status?.segments() ?? []).flatMap((r) => segmentView(r) ?? []);
  } catch (e) {
    log.warn("status page: network map unreadable", { error: String(e) });
    return [];
  }
}

function page(c: Context<HttpEnv>, state: HttpState): Response {
  const now = state.now();
  const segments = readSegments(state);
  const rows = state.deps.registry.list().map((n) => nodeRow(n, segments, now));
  const query = parseTableQuery((k) => c.req.query(k));
  const shown = selectRows(rows, query);
  const perStage = new Map<string, number>();
  const perSegment = new Map<string, number>();
  for (const r of rows) {
    perStage.set(r.stage, (perStage.get(r.stage) ?? 0) + 1);
    if (r.segment !== null) perSegment.set(r.segment, (perSegment.get(r.segment) ?? 0) + 1);
  }
  // Without a choice, the timeline of the node that did something last.
  const selected = query.node !== null
    ? rows.find((r) => r.key === query.node || r.mac === query.node) ?? null
    : rows.reduce<typeof rows[number] | null>(
      (a, b) => (a === null || b.lastSeen > a.lastSeen ? b : a),
      null,
    );
  const html = renderStatusPage({
    now,
    segments,
    perSegment,
    perStage,
    total: rows.length,
    rows: shown.rows,
    matched: shown.matched,
    query,
    selected,
    stream: STREAM_PATH,
  });
  const headers: Record<string, string> = {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": STATUS_CSP,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    vary: "accept-encoding",
  };
  const bytes = new TextEncoder().encode(html);
  // 1,000 rows are some 400 KiB of HTML and a tenth of that gzipped.
  if (/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) {
    const gz = gzipSync(bytes);
    return new Response(gz, {
      headers: { ...headers, "content-encoding": "gzip", "content-length": String(gz.length) },
    });
  }
  return new Response(bytes, { headers: { ...headers, "content-length": String(bytes.length) } });
}

export function mountStatusRoutes(app: Hono<HttpEnv>, state: HttpState, live: Live): void {
  const mode = () => state.deps.config.statusPage ?? "on";
  const access = () => state.deps.config.apiAccess ?? LOOPBACK;
  const refused = (c: Context<HttpEnv>, why: string) => {
    state.counters.statusRefusals++;
    const ip = clientIp(c) ?? null;
    const t = throttle.take(`status:${ip}`);
    if (t.log) log.warn("status page refused", { ip, reason: why, suppressed: t.suppressed });
    return c.text(`forbidden: ${why}\n`, 403);
  };

  app.get("/", (c) => {
    if (mode() === "off") return c.notFound();
    const login = tokenLogin(c, access());
    if (login !== null) return login;
    const why = statusRefusal(c, mode(), access());
    if (why !== null) return refused(c, why);
    return page(c, state);
  });

  app.get(STREAM_PATH, (c) => {
    if (mode() === "off") return c.notFound();
    const why = statusRefusal(c, mode(), access());
    if (why !== null) return refused(c, why);
    const stream = live.hub.open();
    if (stream === null) {
      return c.text("too many live streams\n", 503, { "retry-after": "10" });
    }
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  });
}
