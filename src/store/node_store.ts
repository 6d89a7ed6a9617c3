/**
 * @module
 * The node registry on SQLite: every DHCP, TFTP and HTTP step is an event; a
 * node row keeps the furthest stage of its current boot. Writes are queued and
 * committed in one transaction per flush so a boot storm costs one fsync-free
 * WAL append per batch, not per event.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { nextStage, type Stage, STAGES } from "./stages.ts";

/** Which service saw a step. */
export type EventSource = "dhcp" | "tftp" | "http" | "node";

/** One boot step seen by a service. */
export interface NodeEvent {
  readonly nodeId?: string | undefined;
  readonly mac?: string | undefined;
  readonly uuid?: string | undefined;
  readonly ip?: string | undefined;
  /** /host0 machine folder, when the event knows it (boot script). */
  readonly machine?: string | undefined;
  readonly stage: Stage;
  readonly source: EventSource;
  readonly detail?: Record<string, unknown> | undefined;
  /** Unix ms. */
  readonly at: number;
}

/** A node as `mesh node list` shows it. */
export interface NodeSummary {
  readonly id: string | null;
  readonly mac: string | null;
  readonly uuid: string | null;
  readonly ip: string | null;
  readonly machine: string | null;
  readonly stage: Stage;
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** When the current boot first reached each stage (unix ms). */
  readonly stages: Partial<Record<Stage, number>>;
}

/** One stored event as `mesh node info` and the API show it. */
export interface NodeEventView {
  readonly at: number;
  readonly stage: string;
  readonly source: string;
  readonly ip: string | null;
  readonly detail: Record<string, unknown> | null;
}

/** A node with its recent events, for `mesh node info`. */
export interface NodeDetail extends NodeSummary {
  readonly events: readonly NodeEventView[];
}

interface NodeRow {
  id: string;
  mac: string | null;
  uuid: string | null;
  ip: string | null;
  machine: string | null;
  stage: Stage;
  boot_started: number;
  first_seen: number;
  last_seen: number;
}

/** Registry over an open database. */
export class NodeStore {
  #db: DatabaseSync;
  #queue: NodeEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #insertEvent: StatementSync;
  #getNode: StatementSync;
  #nodeByMac: StatementSync;
  #upsertNode: StatementSync;
  #adopt: StatementSync;
  #macOfNode: StatementSync;
  #macSeen: StatementSync;
  /** Bindings of queued events, until a flush puts them in the database. */
  #queuedMacOf = new Map<string, string>();
  #queuedNodeOf = new Map<string, string>();
  /** Flushes that failed (full disk, read-only or vanished state). */
  failedFlushes = 0;
  /** Events lost with those flushes. */
  lostEvents = 0;
  /** Called with the error of a failed flush (the daemon logs it). */
  onFlushError: ((e: unknown, lost: number) => void) | undefined;
  /** Told of each committed batch (the status page's live stream, boot-stage timings). */
  readonly #watchers = new Set<(events: readonly NodeEvent[]) => void>();

  constructor(db: DatabaseSync, readonly flushDelayMs = 20) {
    this.#db = db;
    this.#insertEvent = db.prepare(
      "INSERT INTO node_events (node_id, mac, ip, at, stage, source, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.#getNode = db.prepare("SELECT * FROM nodes WHERE id = ?");
    this.#nodeByMac = db.prepare(
      "SELECT id FROM nodes WHERE mac = ? ORDER BY last_seen DESC LIMIT 1",
    );
    this.#upsertNode = db.prepare(
      `INSERT INTO nodes (id, mac, uuid, ip, machine, stage, boot_started, first_seen, last_seen)
       VALUES (:id, :mac, :uuid, :ip, :machine, :stage, :boot_started, :first_seen, :at)
       ON CONFLICT(id) DO UPDATE SET mac = coalesce(mac, :mac), uuid = coalesce(uuid, :uuid),
         ip = coalesce(:ip, ip), machine = coalesce(:machine, machine), stage = :stage,
         boot_started = :boot_started, last_seen = max(last_seen, :at)`,
    );
    this.#macOfNode = db.prepare("SELECT mac FROM nodes WHERE id = ?");
    this.#macSeen = db.prepare("SELECT 1 FROM node_events WHERE mac = ? LIMIT 1");
    // Events seen before the node identified itself (DHCP/TFTP know only the MAC).
    this.#adopt = db.prepare(
      "UPDATE node_events SET node_id = ? WHERE mac = ? AND node_id IS NULL",
    );
  }

  /**
   * Queues an event; it is committed within `flushDelayMs`. Cheap and
   * synchronous, and never throws: a failed commit is counted and reported
   * to `onFlushError`, and the services that record go on.
   */
  record(ev: NodeEvent): void {
    this.#queue.push(ev);
    if (ev.nodeId !== undefined && ev.mac !== undefined) {
      const mac = ev.mac.toLowerCase();
      const bound = this.boundMac(ev.nodeId);
      if (bound === undefined) this.#queuedMacOf.set(ev.nodeId, mac);
      if (bound === undefined || bound === mac) this.#queuedNodeOf.set(mac, ev.nodeId);
    }
    if (this.#queue.length >= 1000) this.#flushSafely();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flushSafely(), this.flushDelayMs);
    }
  }

  #flushSafely(): void {
    try {
      this.flush();
    } catch { /* counted and reported by flush */ }
  }

  /**
   * Commits every queued event in one transaction. On failure (SQLITE_FULL,
   * a read-only or deleted file) the batch is dropped, counted and reported,
   * and the error is rethrown to a caller that asked for the flush itself.
   */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    let committed = false;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        for (const ev of batch) this.#apply(ev);
        this.#db.exec("COMMIT");
        committed = true;
      } catch (e) {
        // SQLite may already have rolled back by itself (a full disk does).
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw e;
      }
    } catch (e) {
      this.failedFlushes++;
      this.lostEvents += batch.length;
      this.onFlushError?.(e, batch.length);
      throw e;
    } finally {
      this.#queuedMacOf.clear();
      this.#queuedNodeOf.clear();
    }
    // Only after the commit: a watcher reads the rows and must find them there.
    if (committed) this.#tell(batch);
  }

  /**
   * Calls `fn` with every batch of events once it is committed; returns the
   * unsubscribe. A watcher that throws is ignored (the services that record
   * must never see its failure).
   */
  watch(fn: (events: readonly NodeEvent[]) => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }

  #tell(batch: readonly NodeEvent[]): void {
    for (const fn of this.#watchers) {
      try {
        fn(batch);
      } catch { /* a watcher's own problem */ }
    }
  }

  /** The MAC a node id is bound to: the first MAC recorded with it. */
  boundMac(nodeId: string): string | undefined {
    const queued = this.#queuedMacOf.get(nodeId);
    if (queued !== undefined) return queued;
    try {
      return (this.#macOfNode.get(nodeId) as { mac: string | null } | undefined)?.mac ??
        undefined;
    } catch {
      return undefined;
    }
  }

  /** True when any event was recorded for this MAC. */
  knowsMac(mac: string): boolean {
    const key = mac.toLowerCase();
    if (this.#queue.some((e) => e.mac?.toLowerCase() === key)) return true;
    try {
      return this.#macSeen.get(key) !== undefined;
    } catch {
      return false;
    }
  }

  /** The node id most recently recorded with a MAC (bound to it). */
  nodeOfMac(mac: string): string | undefined {
    const key = mac.toLowerCase();
    const queued = this.#queuedNodeOf.get(key);
    if (queued !== undefined) return queued;
    try {
      return (this.#nodeByMac.get(key) as { id: string } | undefined)?.id;
    } catch {
      return undefined;
    }
  }

  /**
   * Keeps the tables bounded against a flood of made-up MACs: events of MACs
   * that never identified as a node are dropped when older than
   * `pendingMaxAgeMs` or beyond the newest `maxPendingMacs` such MACs, and
   * each node keeps its newest `eventsPerNode` events. Returns rows deleted.
   */
  prune(
    now: number,
    opts: { pendingMaxAgeMs?: number; maxPendingMacs?: number; eventsPerNode?: number } = {},
  ): number {
    this.#flushSafely();
    const age = opts.pendingMaxAgeMs ?? 24 * 3600_000;
    const keep = opts.maxPendingMacs ?? 4096;
    const perNode = opts.eventsPerNode ?? 1000;
    const before = this.#db.prepare("SELECT total_changes() AS n").get() as { n: number };
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#db.prepare("DELETE FROM node_events WHERE node_id IS NULL AND at < ?").run(now - age);
      this.#db.prepare(
        `DELETE FROM node_events WHERE node_id IS NULL AND mac NOT IN (
           SELECT mac FROM node_events WHERE node_id IS NULL AND mac IS NOT NULL
           GROUP BY mac ORDER BY max(at) DESC LIMIT ?)`,
      ).run(keep);
      this.#db.prepare(
        `DELETE FROM node_events WHERE node_id IS NOT NULL AND seq NOT IN (
           SELECT seq FROM (SELECT seq, row_number() OVER
             (PARTITION BY node_id ORDER BY seq DESC) AS r FROM node_events
             WHERE node_id IS NOT NULL) WHERE r <= ?)`,
      ).run(perNode);
      this.#db.exec("COMMIT");
    } catch (e) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw e;
    }
    const after = this.#db.prepare("SELECT total_changes() AS n").get() as { n: number };
    return after.n - before.n;
  }

  /** Forgets a node (its row and events), so its id can bind to a new MAC. */
  forget(nodeId: string): boolean {
    this.#flushSafely();
    const r = this.#db.prepare("DELETE FROM nodes WHERE id = ?").run(nodeId);
    this.#db.prepare("DELETE FROM node_events WHERE node_id = ?").run(nodeId);
    return Number(r.changes) > 0;
  }

  #apply(ev: NodeEvent): void {
    const mac = ev.mac?.toLowerCase() ?? null;
    let id = ev.nodeId ?? null;
    if (id === null && mac !== null) {
      id = (this.#nodeByMac.get(mac) as { id: string } | undefined)?.id ?? null;
    }
    this.#insertEvent.run(
      id,
      mac,
      ev.ip ?? null,
      ev.at,
      ev.stage,
      ev.source,
      ev.detail ? JSON.stringify(ev.detail) : null,
    );
    if (id === null) return;
    let row = this.#getNode.get(id) as NodeRow | undefined;
    // A node identifying itself for the first time pulls in its MAC-only
    // history, replayed so its current boot starts at its firmware DISCOVER.
    if (!row && mac !== null) row = this.#adoptHistory(id, mac);
    const next = nextStage(row?.stage ?? null, ev.stage);
    this.#upsertNode.run({
      id,
      mac,
      uuid: ev.uuid ?? null,
      ip: ev.ip ?? null,
      machine: ev.machine ?? null,
      stage: next.stage,
      boot_started: next.newBoot ? ev.at : row?.boot_started ?? ev.at,
      first_seen: row?.first_seen ?? ev.at,
      at: ev.at,
    });
  }

  #adoptHistory(id: string, mac: string): NodeRow | undefined {
    this.#adopt.run(id, mac);
    const evs = this.#db.prepare(
      "SELECT at, stage FROM node_events WHERE node_id = ? ORDER BY seq",
    ).all(id) as { at: number; stage: Stage }[];
    let stage: Stage | null = null;
    let started = 0;
    for (const e of evs.slice(0, -1)) { // the last one is the event being applied
      const n = nextStage(stage, e.stage);
      stage = n.stage;
      if (n.newBoot) started = e.at;
    }
    if (stage === null) return undefined;
    const first = evs[0]!.at;
    return {
      id,
      mac,
      uuid: null,
      ip: null,
      machine: null,
      stage,
      boot_started: started,
      first_seen: first,
      last_seen: first,
    };
  }

  #stageTimes(id: string, since: number): Partial<Record<Stage, number>> {
    const rows = this.#db.prepare(
      "SELECT stage, min(at) AS at FROM node_events WHERE node_id = ? AND at >= ? GROUP BY stage",
    ).all(id, since) as { stage: Stage; at: number }[];
    const out: Partial<Record<Stage, number>> = {};
    for (const s of STAGES) {
      const r = rows.find((x) => x.stage === s);
      if (r) out[s] = r.at;
    }
    return out;
  }

  #summary(r: NodeRow): NodeSummary {
    return {
      id: r.id,
      mac: r.mac,
      uuid: r.uuid,
      ip: r.ip,
      machine: r.machine,
      stage: r.stage,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
      stages: this.#stageTimes(r.id, r.boot_started),
    };
  }

  /** Every identified node, plus MACs seen that have not identified yet (id null). */
  list(): NodeSummary[] {
    this.flush();
    const nodes =
      (this.#db.prepare("SELECT * FROM nodes ORDER BY id").all() as unknown as NodeRow[])
        .map((r) => this.#summary(r));
    const pending = this.#db.prepare(
      `SELECT mac, max(ip) AS ip, min(at) AS first, max(at) AS last, max(stage) AS stage
       FROM node_events WHERE node_id IS NULL AND mac IS NOT NULL
         AND mac NOT IN (SELECT mac FROM nodes WHERE mac IS NOT NULL)
       GROUP BY mac ORDER BY mac`,
    ).all() as { mac: string; ip: string | null; first: number; last: number }[];
    for (const p of pending) nodes.push(this.#pendingSummary(p));
    return nodes;
  }

  /** A MAC seen that has not identified yet, as a summary (id null). */
  #pendingSummary(p: { mac: string; ip: string | null; first: number; last: number }): NodeSummary {
    const evs = this.#db.prepare(
      "SELECT stage, max(at) AS at FROM node_events WHERE mac = ? AND node_id IS NULL GROUP BY stage",
    ).all(p.mac) as { stage: Stage; at: number }[];
    let stage: Stage | null = null;
    const stages: Partial<Record<Stage, number>> = {};
    for (const s of STAGES) {
      const e = evs.find((x) => x.stage === s);
      if (e) {
        stages[s] = e.at;
        stage = s;
      }
    }
    return {
      id: null,
      mac: p.mac,
      uuid: null,
      ip: p.ip,
      machine: null,
      stage: stage ?? "discovered",
      firstSeen: p.first,
      lastSeen: p.last,
      stages,
    };
  }

  /**
   * One row of list() without listing them all: a node by id or MAC, or a
   * MAC that has not identified yet. For the status page's live updates.
   */
  summary(idOrMac: string): NodeSummary | undefined {
    this.flush();
    const key = idOrMac.toLowerCase();
    const row = (this.#getNode.get(key) ??
      this.#db.prepare("SELECT * FROM nodes WHERE mac = ? ORDER BY last_seen DESC LIMIT 1")
        .get(key)) as NodeRow | undefined;
    if (row) return this.#summary(row);
    const p = this.#db.prepare(
      `SELECT mac, max(ip) AS ip, min(at) AS first, max(at) AS last FROM node_events
       WHERE node_id IS NULL AND mac = ? GROUP BY mac`,
    ).get(key) as { mac: string; ip: string | null; first: number; last: number } | undefined;
    return p === undefined ? undefined : this.#pendingSummary(p);
  }

  /** One node with its last `limit` events, or undefined. Accepts an id or a MAC. */
  get(idOrMac: string, limit = 50): NodeDetail | undefined {
    this.flush();
    const key = idOrMac.toLowerCase();
    const row = (this.#getNode.get(key) ??
      this.#db.prepare("SELECT * FROM nodes WHERE mac = ?").get(key)) as NodeRow | undefined;
    if (!row) return undefined;
    const events = (this.#db.prepare(
      "SELECT at, stage, source, ip, detail FROM node_events WHERE node_id = ? ORDER BY seq DESC LIMIT ?",
    ).all(row.id, limit) as {
      at: number;
      stage: string;
      source: string;
      ip: string | null;
      detail: string | null;
    }[])
      .reverse()
      .map((e) => ({
        ...e,
        detail: e.detail ? JSON.parse(e.detail) as Record<string, unknown> : null,
      }));
    return { ...this.#summary(row), events };
  }

  /** Flushes pending events; call before closing the database. */
  close(): void {
    this.flush();
  }
}
