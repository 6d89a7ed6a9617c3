/**
 * @module
 * `mesh workload list|start|stop|status -w <name> [-n <node>]`: KVM VMs from
 * `<host0>/workloads/<name>.conf` on nodes, over the SSH channel of `mesh
 * node ctl`. Start picks the node (`-n`, or the online node with the most
 * MemAvailable that can hold it), renders the qemu command line and has the
 * node-side supervisor run it; every outcome is recorded in the state
 * database (table workloads, events `workload-*`).
 */
import { existsSync } from "node:fs";
import { closest, type Host0, loadHost0, meshBridge, type Workload } from "../config/mod.ts";
import { ensureNodeKey } from "../daemon/mod.ts";
import { NotFoundError } from "../errors.ts";
import {
  type Accel,
  chooseNode,
  fits,
  formatSize,
  type Need,
  planStart,
  shortfall,
} from "../workload/mod.ts";
import { emit, type GlobalOptions, host0Dir, stateDir } from "./context.ts";
import { formatTime, renderTable } from "./format.ts";
import { resolveTargets } from "./node_targets.ts";
import { probeNodes, runSupervisor } from "./workload_remote.ts";
import { nodeOf, oneTarget, record, stillRunning, withStore } from "./workload_records.ts";

export interface WorkloadOptions {
  workload: string;
  node?: string;
  tcg?: boolean;
  /** Seconds: start (downloads included) and stop (the guest's powerdown) wait this long. */
  timeout?: number;
}

function find(host0: Host0, name: string): Workload {
  const w = host0.workloads.find((x) => x.name === name);
  if (w) return w;
  const near = closest(name, host0.workloads.map((x) => x.name));
  throw new NotFoundError(
    `no workload "${name}" in ${host0.root}/workloads` +
      (near ? ` (did you mean "${near}"?)` : ""),
  );
}

/** `mesh workload start`. */
export async function workloadStart(g: GlobalOptions, o: WorkloadOptions): Promise<number> {
  const host0 = await loadHost0(host0Dir(g));
  const w = find(host0, o.workload);
  await ensureNodeKey(host0Dir(g));
  const need: Need = { name: w.name, memory: w.memory.bytes, cpus: w.cpu.threads };
  const targets = o.node !== undefined
    ? [oneTarget(g, o.node)]
    : resolveTargets(g, "all").filter((t) => t.ip !== null);
  const running = await stillRunning(g, w);
  if (running) {
    const { target, status, rec } = running;
    if (o.node !== undefined && targets[0]!.id !== target.id) {
      throw new Error(`workload ${w.name} runs on node ${target.id}; stop it there first`);
    }
    emit(
      g,
      { ...rec, ip: target.ip, already: true },
      () =>
        `workload ${w.name} already runs on node ${target.id} (${target.ip}), pid ${status.pid}\n`,
    );
    return 0;
  }
  const { nodes, unreachable } = await probeNodes(g, targets);
  let node;
  if (o.node !== undefined) {
    node = nodes[0];
    if (node === undefined) throw new Error(unreachable[0]?.error ?? "the node did not answer");
    if (!fits(need, node)) throw new Error(shortfall(need, node));
  } else {
    const choice = chooseNode(need, nodes, unreachable);
    if (!choice.ok) throw new Error(choice.error);
    node = choice.node;
  }
  const target = targets.find((t) => t.id === node.id)!;
  if (!o.tcg && !node.kvm) {
    throw new Error(
      `node ${node.id} has no /dev/kvm; --tcg runs workload ${w.name} emulated (slow); nothing was started`,
    );
  }
  const accel: Accel = o.tcg ? "tcg" : "kvm";
  const bridges = Object.fromEntries(host0.networks.map((n) => [n.name, meshBridge(n)]));
  const host = host0.settings.http.publicHost ?? node.central;
  const plan = planStart({
    workload: w,
    root: node.root,
    accel,
    bridges,
    central: host ? { host, port: host0.settings.http.port } : null,
  });
  const timeoutMs = (o.timeout ?? 600) * 1000;
  const { status } = await runSupervisor(g, target, "start", w.uuid, plan.spec, timeoutMs);
  const before = withStore(g, (s) => s.get(w.name));
  const startedAt = status.already && before?.startedAt ? before.startedAt : Date.now();
  const rec = record(g, w, node.id, status, status.state === "running" ? startedAt : null);
  if (status.state !== "running") {
    throw new Error(
      `workload ${w.name} did not start on node ${node.id}: ${status.error ?? status.state}`,
    );
  }
  if (status.warning) {
    Deno.stderr.writeSync(new TextEncoder().encode(`mesh: node ${node.id}: ${status.warning}\n`));
  }
  emit(
    g,
    { ...rec, ip: target.ip, accel, already: status.already, argv: plan.rendered.argv },
    () =>
      `workload ${w.name} ${status.already ? "already runs" : "runs"} on node ${node.id} ` +
      `(${target.ip}), pid ${status.pid}, ${accel}, ${formatSize(w.memory.bytes)}, ` +
      `${w.cpu.threads} CPU${w.cpu.threads === 1 ? "" : "s"}\n`,
  );
  return 0;
}

/** `mesh workload stop`. */
export async function workloadStop(g: GlobalOptions, o: WorkloadOptions): Promise<number> {
  const host0 = await loadHost0(host0Dir(g));
  const w = find(host0, o.workload);
  await ensureNodeKey(host0Dir(g));
  const { target, rec } = nodeOf(g, w, o.node);
  if (target === null) {
    emit(
      g,
      { name: w.name, uuid: w.uuid, node: null, state: "stopped", how: null },
      () => `workload ${w.name} is not running (mesh never started it; -n names a node to ask)\n`,
    );
    return 0;
  }
  const wait = o.timeout ?? 30;
  const { status } = await runSupervisor(
    g,
    target,
    "stop",
    w.uuid,
    [String(wait)],
    (wait + 30) * 1000,
  );
  const now = record(g, w, target.id, status, rec?.startedAt ?? null);
  if (status.state === "running") {
    throw new Error(`workload ${w.name} still runs on node ${target.id}`);
  }
  const how = { powerdown: "the guest powered off", term: "qemu quit on SIGTERM", kill: "killed" }[
    status.how ?? ""
  ] ?? "it was not running";
  emit(
    g,
    { ...now, ip: target.ip, how: status.how },
    () => `workload ${w.name} stopped on node ${target.id} (${how})\n`,
  );
  return 0;
}

/** `mesh workload status`. */
export async function workloadStatus(g: GlobalOptions, o: WorkloadOptions): Promise<number> {
  const host0 = await loadHost0(host0Dir(g));
  const w = find(host0, o.workload);
  await ensureNodeKey(host0Dir(g));
  const { target, rec } = nodeOf(g, w, o.node);
  if (target === null) {
    const never = { name: w.name, uuid: w.uuid, node: null, ip: null, state: "stopped" };
    emit(
      g,
      { ...never, pid: null, memoryKb: null, uptimeS: null, error: null },
      () =>
        `workload: ${w.name}\nuuid:     ${w.uuid}\nnode:     -\nstate:    stopped (never started)\n`,
    );
    return 0;
  }
  const { status } = await runSupervisor(g, target, "status", w.uuid, []);
  record(g, w, target.id, status, rec?.startedAt ?? null);
  const data = {
    name: w.name,
    uuid: w.uuid,
    node: target.id,
    ip: target.ip,
    state: status.state,
    pid: status.pid,
    memoryKb: status.memoryKb,
    uptimeS: status.uptimeS,
    error: status.error,
  };
  emit(g, data, () =>
    [
      `workload: ${w.name}`,
      `uuid:     ${w.uuid}`,
      `node:     ${target.id} (${target.ip})`,
      `state:    ${status.state}`,
      ...(status.pid !== null ? [`pid:      ${status.pid}`] : []),
      ...(status.memoryKb !== null
        ? [
          `memory:   ${formatSize(status.memoryKb * 1024)} resident of ${
            formatSize(w.memory.bytes)
          }`,
        ]
        : []),
      ...(status.uptimeS !== null ? [`uptime:   ${status.uptimeS} s`] : []),
      ...(status.error ? [`error:    ${status.error}`] : []),
    ].join("\n") + "\n");
  return 0;
}

/** `mesh workload list`: every workload file with what the state database last recorded. */
export async function workloadList(g: GlobalOptions): Promise<number> {
  const host0 = await loadHost0(host0Dir(g));
  const recs = existsSync(`${stateDir(g)}/mesh.db`) ? withStore(g, (s) => s.list()) : [];
  const rows = host0.workloads.map((w) => {
    const r = recs.find((x) => x.name === w.name);
    return {
      name: w.name,
      uuid: w.uuid,
      memory: w.memory.text,
      cpus: w.cpu.threads,
      node: r?.nodeId ?? null,
      state: r?.state ?? "stopped",
      pid: r?.pid ?? null,
      updatedAt: r?.updatedAt ?? null,
      lastError: r?.lastError ?? null,
    };
  });
  emit(
    g,
    rows,
    () =>
      rows.length === 0 ? `no workloads in ${host0.root}/workloads\n` : renderTable(rows, [
        { header: "NAME", cell: (r) => r.name },
        { header: "UUID", cell: (r) => r.uuid },
        { header: "MEMORY", cell: (r) => r.memory, align: "right" },
        { header: "CPUS", cell: (r) => String(r.cpus), align: "right" },
        { header: "NODE", cell: (r) => r.node ?? "-" },
        { header: "STATE", cell: (r) => r.state },
        { header: "PID", cell: (r) => (r.pid === null ? "-" : String(r.pid)), align: "right" },
        { header: "UPDATED", cell: (r) => formatTime(r.updatedAt) },
      ]),
  );
  return 0;
}
