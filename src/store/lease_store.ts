/**
 * @module
 * Durable DHCP leases in the `leases` table, with a group-commit writer.
 *
 * Durability choice: the database runs in WAL mode with synchronous=NORMAL
 * (set by openStore). A committed transaction is in the WAL file, i.e. in the
 * kernel's page cache, when COMMIT returns; a `kill -9` of mesh cannot lose
 * it, which is the failure the DHCP server must survive. A power cut may lose
 * the last commits (FULL would fsync every commit and cap the lease rate at
 * the disk's fsync rate); a node whose lease was lost that way simply gets an
 * address again, and the conflict probe keeps us from handing its old one to
 * someone else while it still uses it.
 *
 * Group commit: every change queued during one turn of the event loop goes
 * into one `BEGIN IMMEDIATE … COMMIT`; the promises of all of them resolve
 * after that COMMIT, and only then does the server send the ACKs.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

// The row shape is the DHCP core's own: a LeaseChange is committed as is.
import type { LeaseRow, LeaseState } from "../dhcp/mod.ts";
export { type LeaseRow, LeaseState } from "../dhcp/mod.ts";

interface SqlRow {
  ip: number;
  mac: string;
  client_id: string | null;
  node_id: string | null;
  hostname: string | null;
  state: string;
  starts_at: number;
  expires_at: number;
  segment: string;
  updated_at: number;
}

function fromSql(r: SqlRow): LeaseRow {
  return {
    ip: Number(r.ip),
    mac: r.mac,
    clientId: r.client_id,
    nodeId: r.node_id,
    hostname: r.hostname,
    state: r.state as LeaseState,
    startsAt: Number(r.starts_at),
    expiresAt: Number(r.expires_at),
    segment: r.segment,
    updatedAt: Number(r.updated_at),
  };
}

/** Counters for stats and the benchmark. */
export interface LeaseStoreStats {
  commits: number;
  rowsWritten: number;
  /** Largest number of rows in one commit. */
  largestBatch: number;
}

/** Lease persistence over an open state database. */
export class LeaseStore {
  readonly #db: DatabaseSync;
  readonly #upsert: StatementSync;
  readonly #all: StatementSync;
  readonly #boundMac: StatementSync;
  #queue: { rows: readonly LeaseRow[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;
  readonly stats: LeaseStoreStats = { commits: 0, rowsWritten: 0, largestBatch: 0 };

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#upsert = db.prepare(`
      INSERT INTO leases (ip, mac, client_id, node_id, hostname, state, starts_at, expires_at, segment, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(ip) DO UPDATE SET
        mac = excluded.mac, client_id = excluded.client_id, node_id = excluded.node_id,
        hostname = excluded.hostname, state = excluded.state, starts_at = excluded.starts_at,
        expires_at = excluded.expires_at, segment = excluded.segment, updated_at = excluded.updated_at`);
    this.#all = db.prepare("SELECT * FROM leases ORDER BY ip");
    this.#boundMac = db.prepare(
      "SELECT mac FROM leases WHERE ip = ? AND state = 'bound' AND expires_at > ?",
    );
  }

  /** The MAC holding a bound, unexpired lease on `ip` at `now` (ms), if any. */
  boundMacAt(ip: number, now: number): string | undefined {
    return (this.#boundMac.get(ip, now) as { mac: string } | undefined)?.mac;
  }

  /** Every row (for restoring the pool at start and for `mesh dhcp leases`). */
  loadAll(): LeaseRow[] {
    return (this.#all.all() as unknown as SqlRow[]).map(fromSql);
  }

  /** Rows of one segment. */
  loadSegment(segment: string): LeaseRow[] {
    return this.loadAll().filter((r) => r.segment === segment);
  }

  /** Writes rows in one transaction now (synchronous). */
  writeNow(rows: readonly LeaseRow[]): void {
    if (rows.length === 0) return;
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const r of rows) {
        this.#upsert.run(
          r.ip,
          r.mac,
          r.clientId,
          r.nodeId,
          r.hostname,
          r.state,
          r.startsAt,
          r.expiresAt,
          r.segment,
          r.updatedAt,
        );
      }
      this.#db.exec("COMMIT");
    } catch (e) {
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* the failed statement may have ended the transaction */ }
      throw e;
    }
    this.stats.commits++;
    this.stats.rowsWritten += rows.length;
    if (rows.length > this.stats.largestBatch) this.stats.largestBatch = rows.length;
  }

  /**
   * Queues rows for the next group commit. Resolves once they are durable;
   * rejects when the commit failed (the caller must then not send the ACK).
   */
  write(rows: readonly LeaseRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#queue.push({ rows, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // A macrotask, not a microtask: everything the server loop queues
        // while handling one received batch lands in the same commit.
        setTimeout(() => this.flush(), 0);
      }
    });
  }

  /** Commits everything queued so far in one transaction. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    try {
      this.writeNow(batch.flatMap((b) => b.rows));
    } catch (e) {
      for (const b of batch) b.reject(e);
      return;
    }
    for (const b of batch) b.resolve();
  }

  /**
   * Marks bound leases whose time ran out as expired. Returns the rows changed
   * (so the caller can update its in-memory pool).
   */
  expireBound(now: number): LeaseRow[] {
    const rows = this.#db.prepare(
      "UPDATE leases SET state = 'expired', updated_at = ? WHERE state = 'bound' AND expires_at <= ? RETURNING *",
    ).all(now, now) as unknown as SqlRow[];
    return rows.map(fromSql);
  }
}
