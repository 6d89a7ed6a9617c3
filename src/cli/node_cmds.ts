/**
 * @module
 * `mesh node list|info` and `mesh dhcp leases`: read the state database
 * directly, so they work whether the daemon runs or not.
 */
import { existsSync } from "node:fs";
import { formatIpv4 } from "../wire/mod.ts";
import {
  LeaseStore,
  NodeStore,
  type NodeSummary,
  openStore,
  STAGES,
  type Store,
  WorkloadStore,
} from "../store/mod.ts";
import { emit, type GlobalOptions, stateDir } from "./context.ts";
import { formatDelta, formatTime, renderTable } from "./format.ts";
import { NotFoundError } from "../errors.ts";

/** Opens the state database, or returns null when none exists yet. */
function openState(opts: GlobalOptions): Store | null {
  const path = `${stateDir(opts)}/mesh.db`;
  if (!existsSync(path)) return null;
  return openStore(path);
}

/** `mesh node list`. */
export function nodeList(opts: GlobalOptions): number {
  const store = openState(opts);
  const nodes = store ? new NodeStore(store.db).list() : [];
  store?.close();
  emit(opts, nodes, () =>
    nodes.length === 0 ? "no nodes seen yet\n" : renderTable(nodes, [
      { header: "ID", cell: (n: NodeSummary) => n.id ?? "-" },
      { header: "MAC", cell: (n) => n.mac ?? "-" },
      { header: "IP", cell: (n) => n.ip ?? "-" },
      { header: "MACHINE", cell: (n) => n.machine ?? "-" },
      { header: "STAGE", cell: (n) => n.stage },
      { header: "LAST SEEN", cell: (n) => formatTime(n.lastSeen) },
    ]));
  return 0;
}

/** `mesh node info -n <id|mac>`. */
export function nodeInfo(opts: GlobalOptions, id: string): number {
  const store = openState(opts);
  const found = store ? new NodeStore(store.db).get(id) : undefined;
  const workloads = store && found?.id ? new WorkloadStore(store.db).onNode(found.id) : [];
  store?.close();
  if (!found) throw new NotFoundError(`no node with id or MAC "${id}"`);
  const node = { ...found, workloads };
  emit(opts, node, () => {
    const start = node.stages.discovered ?? Math.min(...Object.values(node.stages));
    const lines = [
      `id:         ${node.id}`,
      `mac:        ${node.mac ?? "-"}`,
      `uuid:       ${node.uuid ?? "-"}`,
      `ip:         ${node.ip ?? "-"}`,
      `machine:    ${node.machine ?? "-"}`,
      `stage:      ${node.stage}`,
      `first seen: ${formatTime(node.firstSeen)}`,
      `last seen:  ${formatTime(node.lastSeen)}`,
      "",
      "current boot:",
    ];
    const stages = STAGES.filter((s) => node.stages[s] !== undefined);
    const table = renderTable(stages, [
      { header: "STAGE", cell: (s) => s },
      { header: "AT", cell: (s) => formatTime(node.stages[s]) },
      { header: "SINCE START", cell: (s) => formatDelta(start, node.stages[s]), align: "right" },
    ]);
    const events = renderTable(node.events, [
      { header: "AT", cell: (e) => formatTime(e.at) },
      { header: "SOURCE", cell: (e) => e.source },
      { header: "STAGE", cell: (e) => e.stage },
      { header: "DETAIL", cell: (e) => (e.detail ? JSON.stringify(e.detail) : "") },
    ]);
    const vms = workloads.length === 0 ? "none recorded\n" : renderTable(workloads, [
      { header: "NAME", cell: (w) => w.name },
      { header: "STATE", cell: (w) => w.state },
      { header: "PID", cell: (w) => (w.pid === null ? "-" : String(w.pid)), align: "right" },
      { header: "UPDATED", cell: (w) => formatTime(w.updatedAt) },
    ]);
    return `${lines.join("\n")}\n${table}\nworkloads:\n${vms}recent events:\n${events}`;
  });
  return 0;
}

/** `mesh dhcp leases`. */
export function dhcpLeases(opts: GlobalOptions, all: boolean): number {
  const store = openState(opts);
  const rows = store
    ? new LeaseStore(store.db).loadAll()
      .filter((r) => all || r.state === "bound")
      .sort((a, b) => a.segment.localeCompare(b.segment) || a.ip - b.ip)
    : [];
  store?.close();
  const now = Date.now();
  const leases = rows.map((r) => ({
    ...r,
    ip: formatIpv4(r.ip),
    // Not yet swept by the daemon (or no daemon running): say what it is.
    state: r.state === "bound" && r.expiresAt < now ? "expired" : r.state,
  }));
  emit(opts, leases, () =>
    leases.length === 0 ? "no leases\n" : renderTable(leases, [
      { header: "SEGMENT", cell: (l) => l.segment },
      { header: "IP", cell: (l) => l.ip },
      { header: "MAC", cell: (l) => l.mac },
      { header: "NODE", cell: (l) => l.nodeId ?? "-" },
      { header: "HOSTNAME", cell: (l) => l.hostname ?? "-" },
      { header: "STATE", cell: (l) => l.state },
      { header: "EXPIRES", cell: (l) => formatTime(l.expiresAt) },
    ]));
  return 0;
}
