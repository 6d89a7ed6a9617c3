/**
 * @module
 * HTTP boot service: boot scripts, overlays, static trees (mirror, boot files,
 * ISOs), node API, health and metrics, on Hono + Deno.serve.
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
} from "./deps.ts";
export {
  loadOverlayIndex,
  type OverlayIndex,
  type OverlayIndexEntry,
  parseOverlayIndex,
} from "./overlay_index.ts";
export { contentTypeFor } from "./content_type.ts";
export { decideRange, type RangeDecision } from "./range.ts";
