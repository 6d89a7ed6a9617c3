/**
 * @module
 * The network map the daemon works from: the segments of the last scan, the
 * subnet allocated to each (kept across restarts and while a segment is
 * away), and the events of changes. A scan's result replaces the map in one
 * transaction, so a reader (`mesh net show`) sees one whole scan or the one
 * before it.
 */
import type { DatabaseSync } from "node:sqlite";
import { type Cidr, formatCidr, parseCidr } from "../wire/mod.ts";

/** A segment as stored: its report is the JSON `mesh net show` prints. */
export interface StoredSegment {
  readonly id: string;
  /** Member interface MACs, so the next scan can carry the id over. */
  readonly macs: readonly string[];
  readonly report: unknown;
  readonly updatedAt: number;
}

/** `segment` had `subnet`, and last needed it at `lastSeen` (unix ms). */
export interface StoredAllocation {
  readonly segment: string;
  readonly subnet: Cidr;
  readonly lastSeen: number;
}

/** One change of the map. */
export interface NetEvent {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly segment: string | null;
  readonly detail: unknown;
}

/** Events kept: the oldest go once there are more (a flapping link must not fill the disk). */
const MAX_EVENTS = 10_000;

/** Segments, allocations and network events over an open state database. */
export class NetStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The segments of the last scan, by id. */
  segments(): StoredSegment[] {
    const rows = this.#db.prepare(
      "SELECT id, macs, report, updated_at FROM segments ORDER BY id",
    ).all() as { id: string; macs: string; report: string; updated_at: number }[];
    return rows.map((r) => ({
      id: r.id,
      macs: JSON.parse(r.macs) as string[],
      report: JSON.parse(r.report) as unknown,
      updatedAt: Number(r.updated_at),
    }));
  }

  /** Every allocation, live or held. */
  allocations(): StoredAllocation[] {
    const rows = this.#db.prepare(
      "SELECT segment, subnet, last_seen FROM subnet_allocations ORDER BY segment",
    ).all() as { segment: string; subnet: string; last_seen: number }[];
    return rows.flatMap((r) => {
      try {
        return [{ segment: r.segment, subnet: parseCidr(r.subnet), lastSeen: Number(r.last_seen) }];
      } catch {
        return []; // a row no mesh wrote: the planner carves the segment anew
      }
    });
  }

  /**
   * Replaces the map and the allocation table with one scan's outcome, and
   * appends its events, in one transaction.
   */
  commitScan(
    at: number,
    segments: readonly Omit<StoredSegment, "updatedAt">[],
    allocations: readonly StoredAllocation[],
    events: readonly Omit<NetEvent, "seq" | "at">[] = [],
  ): void {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec("DELETE FROM segments");
      const seg = db.prepare(
        "INSERT INTO segments (id, macs, report, updated_at) VALUES (?, ?, ?, ?)",
      );
      for (const s of segments) seg.run(s.id, JSON.stringify(s.macs), JSON.stringify(s.report), at);
      db.exec("DELETE FROM subnet_allocations");
      const alloc = db.prepare(
        "INSERT INTO subnet_allocations (segment, subnet, last_seen) VALUES (?, ?, ?)",
      );
      for (const a of allocations) alloc.run(a.segment, formatCidr(a.subnet), a.lastSeen);
      this.#append(at, events);
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }

  /** Appends events outside a scan (an address added or removed). */
  record(at: number, events: readonly Omit<NetEvent, "seq" | "at">[]): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      this.#append(at, events);
      this.#db.exec("COMMIT");
    } catch (e) {
      this.#db.exec("ROLLBACK");
      throw e;
    }
  }

  /** The newest `limit` events, oldest first. */
  events(limit = 100): NetEvent[] {
    const rows = this.#db.prepare(
      "SELECT seq, at, kind, segment, detail FROM net_events ORDER BY seq DESC LIMIT ?",
    ).all(limit) as {
      seq: number;
      at: number;
      kind: string;
      segment: string | null;
      detail: string | null;
    }[];
    return rows.reverse().map((r) => ({
      seq: Number(r.seq),
      at: Number(r.at),
      kind: r.kind,
      segment: r.segment,
      detail: r.detail === null ? null : JSON.parse(r.detail) as unknown,
    }));
  }

  #append(at: number, events: readonly Omit<NetEvent, "seq" | "at">[]): void {
    if (events.length === 0) return;
    const ins = this.#db.prepare(
      "INSERT INTO net_events (at, kind, segment, detail) VALUES (?, ?, ?, ?)",
    );
    for (const e of events) {
      ins.run(at, e.kind, e.segment, e.detail === undefined ? null : JSON.stringify(e.detail));
    }
    this.#db.prepare(
      "DELETE FROM net_events WHERE seq <= (SELECT max(seq) FROM net_events) - ?",
    ).run(MAX_EVENTS);
  }
}
