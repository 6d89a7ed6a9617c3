/**
 * @module
 * Node changes as they are committed: the registry tells which events it
 * wrote, the feed looks up the rows they changed (once per batch and node)
 * and hands them to its listeners — the live stream and the boot-stage
 * timings. The lookups run in a microtask, out of the registry's flush,
 * so the services that record never wait for the status page.
 */
import type { NodeEvent, NodeRegistry, NodeSummary } from "./deps.ts";
import { Histogram, type MetricFamily } from "./metrics_text.ts";
import { BoundedMap } from "./lru.ts";
import { MAP_CAPACITY } from "./state.ts";
import { timeline } from "./status_view.ts";

export type FeedListener = (rows: readonly NodeSummary[]) => void;

export class NodeFeed {
  readonly #registry: NodeRegistry;
  readonly #listeners = new Set<FeedListener>();
  #keys = new Set<string>();
  #scheduled = false;

  constructor(registry: NodeRegistry, signal?: AbortSignal) {
    this.#registry = registry;
    const off = registry.watch((batch) => this.#onBatch(batch));
    signal?.addEventListener("abort", off, { once: true });
  }

  subscribe(fn: FeedListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #onBatch(batch: readonly NodeEvent[]): void {
    for (const ev of batch) {
      const key = ev.nodeId ?? ev.mac?.toLowerCase();
      if (key !== undefined) this.#keys.add(key);
    }
    if (this.#scheduled || this.#keys.size === 0) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#drain());
  }

  #drain(): void {
    this.#scheduled = false;
    const keys = this.#keys;
    this.#keys = new Set();
    const rows = new Map<string, NodeSummary>();
    for (const k of keys) {
      let s: NodeSummary | undefined;
      try {
        s = this.#registry.summary(k);
      } catch {
        continue; // the database is failing: the state supervisor reports that
      }
      if (s !== undefined) rows.set(s.id ?? s.mac ?? k, s);
    }
    if (rows.size === 0) return;
    const list = [...rows.values()];
    for (const fn of this.#listeners) {
      try {
        fn(list);
      } catch { /* one listener's failure is not the others' */ }
    }
  }
}

/** Seconds: from a DHCP exchange (well under 1 s) to a kernel over a slow link. */
export const STAGE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * Boot-stage durations as a histogram: each step of a boot observed once,
 * when it is first committed, as the time since the step before it.
 */
export class BootTimings {
  readonly #hist = new Histogram(STAGE_BUCKETS);
  /** Per node (by MAC, which stays the same when a node identifies): the step times observed. */
  readonly #seen = new BoundedMap<string, Partial<Record<string, number>>>(MAP_CAPACITY);

  constructor(feed: NodeFeed, readonly now: () => number) {
    feed.subscribe((rows) => {
      for (const r of rows) this.#observe(r);
    });
  }

  #observe(n: NodeSummary): void {
    const key = n.mac ?? n.id;
    if (key === null) return;
    const seen = this.#seen.get(key) ?? {};
    for (const step of timeline(n.stages, this.now())) {
      if (step.state !== "done" || step.ms === null || seen[step.stage] === step.at) continue;
      seen[step.stage] = step.at ?? undefined;
      this.#hist.observe(step.ms / 1000, { stage: step.stage });
    }
    this.#seen.set(key, seen);
  }

  family(): MetricFamily {
    return {
      name: "mesh_boot_stage_duration_seconds",
      help: "Time from one boot step to the next (label: the step reached), per boot.",
      type: "histogram",
      samples: this.#hist.samples(),
    };
  }
}
