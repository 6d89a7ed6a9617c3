/**
 * @module
 * What `mesh workload` remembers in the state database (where each workload
 * runs, as its node last said) and which node a command is about.
 */
import { existsSync } from "node:fs";
import type { Workload } from "../config/mod.ts";
import { NotFoundError } from "../errors.ts";
import { openStore, type WorkloadRecord, WorkloadStore } from "../store/mod.ts";
import type { RemoteStatus } from "../workload/mod.ts";
import { type GlobalOptions, stateDir } from "./context.ts";
import { resolveTargets, type Target } from "./node_targets.ts";
import { runSupervisor } from "./workload_remote.ts";

export function withStore<T>(g: GlobalOptions, fn: (s: WorkloadStore) => T): T {
  const store = openStore(`${stateDir(g)}/mesh.db`);
  try {
    return fn(new WorkloadStore(store.db));
  } finally {
    store.close();
  }
}

/** One node for `-n <spec>` (a single id, MAC or machine). */
export function oneTarget(g: GlobalOptions, spec: string): Target {
  const targets = resolveTargets(g, spec);
  if (targets.length !== 1 || spec === "all" || spec.includes(",") || spec.startsWith("group:")) {
    throw new Error(`-n names one node for a workload, got "${spec}"`);
  }
  const t = targets[0]!;
  if (t.ip === null) throw new NotFoundError(`node ${t.id} has no current lease (is it up?)`);
  return t;
}

/** Records what the node said about the workload (and the event of a change). */
export function record(
  g: GlobalOptions,
  w: Workload,
  node: string,
  s: RemoteStatus,
  startedAt: number | null,
) {
  const now = Date.now();
  const rec: WorkloadRecord = {
    name: w.name,
    uuid: w.uuid,
    nodeId: node,
    state: s.state,
    pid: s.pid,
    startedAt,
    updatedAt: now,
    lastError: s.error,
  };
  withStore(g, (st) => st.record(rec, s.how ? { how: s.how } : {}));
  return rec;
}

/** What the state database recorded for a workload (nothing when there is no database yet). */
export function recordOf(g: GlobalOptions, name: string): WorkloadRecord | undefined {
  if (!existsSync(`${stateDir(g)}/mesh.db`)) return undefined;
  return withStore(g, (s) => s.get(name));
}

/** The node a recorded workload is on (or `-n`); null when it was never started and no -n. */
export function nodeOf(
  g: GlobalOptions,
  w: Workload,
  spec?: string,
): { target: Target | null; rec?: WorkloadRecord } {
  const rec = recordOf(g, w.name);
  const r = rec ? { rec } : {};
  if (spec !== undefined) return { target: oneTarget(g, spec), ...r };
  return { target: rec?.nodeId ? oneTarget(g, rec.nodeId) : null, ...r };
}

/**
 * Where the workload still runs according to its node, when the database
 * says it runs (a node that is gone or has no lease is taken at its word: a
 * reboot ends its VMs). An unreachable node throws: it may still run it.
 */
export async function stillRunning(g: GlobalOptions, w: Workload): Promise<
  { target: Target; status: RemoteStatus; rec: WorkloadRecord } | null
> {
  const rec = recordOf(g, w.name);
  if (rec?.state !== "running" || !rec.nodeId) return null;
  let target: Target;
  try {
    target = oneTarget(g, rec.nodeId);
  } catch (e) {
    if (e instanceof NotFoundError) return null;
    throw e;
  }
  const { status } = await runSupervisor(g, target, "status", w.uuid, []);
  record(g, w, target.id, status, rec.startedAt);
  return status.state === "running" ? { target, status, rec } : null;
}
