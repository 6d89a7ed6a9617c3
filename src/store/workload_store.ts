/**
 * @module
 * Where each KVM workload runs and how it went, as `mesh workload` last saw
 * it. Every change of state is also an event in net_events (kind
 * `workload-<state>`), in the same transaction, so `mesh events` shows it.
 */
import type { DatabaseSync } from "node:sqlite";

/** running | stopped | failed, as the node-side supervisor reports it. */
export type WorkloadState = "running" | "stopped" | "failed";

/** One workload's row. */
export interface WorkloadRecord {
  readonly name: string;
  readonly uuid: string;
  readonly nodeId: string | null;
  readonly state: WorkloadState;
  readonly pid: number | null;
  /** Unix ms of the start that made it run (kept after it stops). */
  readonly startedAt: number | null;
  readonly updatedAt: number;
  readonly lastError: string | null;
}

interface Row {
  name: string;
  uuid: string;
  node_id: string | null;
  state: WorkloadState;
  pid: number | null;
  started_at: number | null;
  updated_at: number;
  last_error: string | null;
}

const toRecord = (r: Row): WorkloadRecord => ({
  name: r.name,
  uuid: r.uuid,
  nodeId: r.node_id,
  state: r.state,
  pid: r.pid === null ? null : Number(r.pid),
  startedAt: r.started_at === null ? null : Number(r.started_at),
  updatedAt: Number(r.updated_at),
  lastError: r.last_error,
});

/** Workload rows over an open state database. */
export class WorkloadStore {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Every workload ever recorded, by name. */
  list(): WorkloadRecord[] {
    const rows = this.#db.prepare("SELECT * FROM workloads ORDER BY name").all() as unknown[];
    return (rows as Row[]).map(toRecord);
  }

  get(name: string): WorkloadRecord | undefined {
    const row = this.#db.prepare("SELECT * FROM workloads WHERE name = ?").get(name) as
      | Row
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** The workloads recorded on one node. */
  onNode(nodeId: string): WorkloadRecord[] {
    const rows = this.#db.prepare(
      "SELECT * FROM workloads WHERE node_id = ? ORDER BY name",
    ).all(nodeId) as unknown[];
    return (rows as Row[]).map(toRecord);
  }

  /**
   * Writes the row; when the state (or node, or pid) changed, appends a
   * `workload-<state>` event too. `detail` adds to the event.
   */
  record(rec: WorkloadRecord, detail: Record<string, unknown> = {}): void {
    const db = this.#db;
    db.exec("BEGIN IMMEDIATE");
    try {
      const before = this.get(rec.name);
      db.prepare(
        `INSERT INTO workloads (name, uuid, node_id, state, pid, started_at, updated_at, last_error)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET uuid = excluded.uuid, node_id = excluded.node_id,
           state = excluded.state, pid = excluded.pid, started_at = excluded.started_at,
           updated_at = excluded.updated_at, last_error = excluded.last_error`,
      ).run(
        rec.name,
        rec.uuid,
        rec.nodeId,
        rec.state,
        rec.pid,
        rec.startedAt,
        rec.updatedAt,
        rec.lastError,
      );
      const changed = !before || before.state !== rec.state || before.nodeId !== rec.nodeId ||
        before.pid !== rec.pid;
      if (changed) {
        const event = {
          workload: rec.name,
          node: rec.nodeId,
          ...(rec.pid !== null ? { pid: rec.pid } : {}),
          ...(rec.lastError !== null && rec.state === "failed" ? { error: rec.lastError } : {}),
          ...detail,
        };
        db.prepare(
          "INSERT INTO net_events (at, kind, segment, detail) VALUES (?, ?, NULL, ?)",
        ).run(rec.updatedAt, `workload-${rec.state}`, JSON.stringify(event));
      }
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
}
