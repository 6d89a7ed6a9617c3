/**
 * @module
 * HTTP boot service: boot scripts, overlays, static trees (mirror, boot files,
 * ISOs), node API, the status page with its live stream, health and the
 * Prometheus text format of every service's metrics, on Hono.
 */
export { createApp, type HttpApp } from "./app.ts";
export {
  DEFAULT_ENGINE,
  HttpEngine,
  type RunningHttp,
  serveHttp,
  type ServeOptions,
} from "./serve.ts";
export {
  type ApiAccess,
  type AppDeps,
  type BootCatalog,
  type EventSource,
  type HttpConfig,
  type HttpRoots,
  type LeaseLookup,
  type MachineEntry,
  type NodeDetail,
  type NodeEvent,
  type NodeEventView,
  type NodeRegistry,
  type NodeSummary,
  type OverlayAccess,
  type OverlayFile,
  Stage,
  STAGE_ORDER,
  type StatusPageAccess,
  type StatusSources,
} from "./deps.ts";
export {
  Histogram,
  type HistogramSample,
  type Labels,
  type MetricFamily,
  recordSamples,
  renderMetrics,
  type Sample,
} from "./metrics_text.ts";
export {
  loadOverlayIndex,
  type OverlayIndex,
  type OverlayIndexEntry,
  parseOverlayIndex,
} from "./overlay_index.ts";
export { contentTypeFor } from "./content_type.ts";
export { decideRange, type RangeDecision } from "./range.ts";
