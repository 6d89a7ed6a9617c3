/**
 * @module
 * The state database (SQLite through node:sqlite, WAL): schema and migrations,
 * the one-daemon-per-state-directory lock, and the node registry.
 */
export { openStore, type Store } from "./db.ts";
export { MIGRATIONS } from "./schema.ts";
export { acquireStateLock, lockHolder, type StateLock } from "./lock.ts";
export { isStage, nextStage, Stage, stageRank, STAGES } from "./stages.ts";
export {
  type EventSource,
  type NodeDetail,
  type NodeEvent,
  type NodeEventView,
  NodeStore,
  type NodeSummary,
} from "./node_store.ts";
export * from "./lease_store.ts";
export { type NetEvent, NetStore, type StoredAllocation, type StoredSegment } from "./net_store.ts";
export { EventFeed, type FeedCursor, type FeedEvent, type FeedFilter } from "./event_feed.ts";
export { type WorkloadRecord, type WorkloadState, WorkloadStore } from "./workload_store.ts";
