/**
 * @module
 * One stream of what happened, for `mesh events`: the boot steps of nodes
 * (node_events: DHCP, TFTP, HTTP) and the network's changes (net_events:
 * scans, segments, guard actions), merged by time. Each table has its own
 * sequence, so a follower keeps a cursor per table and asks for rows after it.
 */
import type { DatabaseSync } from "node:sqlite";

/** One event of either kind, as `mesh events --json` prints it. */
export type FeedEvent =
  | {
    readonly type: "node";
    readonly seq: number;
    readonly at: number;
    readonly node: string | null;
    readonly mac: string | null;
    readonly ip: string | null;
    readonly stage: string;
    readonly source: string;
    readonly detail: unknown;
  }
  | {
    readonly type: "net";
    readonly seq: number;
    readonly at: number;
    readonly kind: string;
    readonly segment: string | null;
    readonly detail: unknown;
  };

/** Where a follower is: the last seq seen of each table. */
export interface FeedCursor {
  node: number;
  net: number;
}

/**
 * Only one node's events: rows with its id or its MAC (DHCP steps before it
 * identified itself carry only the MAC). Net events are left out then.
 */
export interface FeedFilter {
  readonly node?: string;
  readonly mac?: string;
}

const json = (s: string | null): unknown => {
  if (s === null) return null;
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

/** Reads events from an open state database. */
export class EventFeed {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The newest `limit` events (oldest first) and the cursor after them. */
  tail(limit: number, filter: FeedFilter = {}): { events: FeedEvent[]; cursor: FeedCursor } {
    const cursor = this.end();
    const events = this.#read({ node: 0, net: 0 }, filter, limit, true);
    return { events, cursor };
  }

  /** Events after `cursor` (oldest first); moves the cursor past them. */
  since(cursor: FeedCursor, filter: FeedFilter = {}, limit = 1000): FeedEvent[] {
    const events = this.#read(cursor, filter, limit, false);
    for (const e of events) {
      if (e.type === "node") cursor.node = Math.max(cursor.node, e.seq);
      else cursor.net = Math.max(cursor.net, e.seq);
    }
    return events;
  }

  /** The cursor at the current end of both tables. */
  end(): FeedCursor {
    const max = (t: string) =>
      Number(
        (this.#db.prepare(`SELECT coalesce(max(seq), 0) AS s FROM ${t}`).get() as {
          s: number;
        }).s,
      );
    return { node: max("node_events"), net: max("net_events") };
  }

  #read(from: FeedCursor, filter: FeedFilter, limit: number, newest: boolean): FeedEvent[] {
    const order = newest ? "DESC" : "ASC";
    const key = filter.node ?? filter.mac;
    const id = (filter.node ?? key)?.toLowerCase();
    const mac = (filter.mac ?? key)?.toLowerCase();
    const nodeRows = (key === undefined
      ? this.#db.prepare(
        `SELECT * FROM node_events WHERE seq > ? ORDER BY seq ${order} LIMIT ?`,
      ).all(from.node, limit)
      : this.#db.prepare(
        `SELECT * FROM node_events WHERE seq > ? AND (node_id = ? OR mac = ?)
         ORDER BY seq ${order} LIMIT ?`,
      ).all(from.node, id!, mac!, limit)) as {
        seq: number;
        node_id: string | null;
        mac: string | null;
        ip: string | null;
        at: number;
        stage: string;
        source: string;
        detail: string | null;
      }[];
    const netRows =
      (key === undefined
        ? this.#db.prepare(`SELECT * FROM net_events WHERE seq > ? ORDER BY seq ${order} LIMIT ?`)
          .all(from.net, limit)
        : []) as {
          seq: number;
          at: number;
          kind: string;
          segment: string | null;
          detail: string | null;
        }[];
    const events: FeedEvent[] = [
      ...nodeRows.map((r) => ({
        type: "node" as const,
        seq: Number(r.seq),
        at: Number(r.at),
        node: r.node_id,
        mac: r.mac,
        ip: r.ip,
        stage: r.stage,
        source: r.source,
        detail: json(r.detail),
      })),
      ...netRows.map((r) => ({
        type: "net" as const,
        seq: Number(r.seq),
        at: Number(r.at),
        kind: r.kind,
        segment: r.segment,
        detail: json(r.detail),
      })),
    ];
    // By time; within one table by seq (rows committed in one batch share `at`).
    events.sort((a, b) => a.at - b.at || (a.type === b.type ? a.seq - b.seq : 0));
    return newest ? events.slice(-limit) : events;
  }
}
