/**
 * @module
 * Which node runs a workload. Each candidate node answers a probe over SSH
 * (`PROBE_COMMAND`: its /proc/meminfo, nproc, whether it has /dev/kvm, its
 * run-directory root and the central node's address as it sees it); the
 * choice is the node with the most MemAvailable that can hold the workload.
 * Pure: text in, a decision out.
 */

/** What one node said about itself. */
export interface NodeCapacity {
  readonly id: string;
  /** MemAvailable, bytes. */
  readonly memAvailable: number;
  readonly cpus: number;
  readonly kvm: boolean;
  /** The node's workload run-directory root ($MESH_WORKLOAD_ROOT or /run/mesh/workloads). */
  readonly root: string;
  /** The central node's address as the node reached it (its SSH client), or null. */
  readonly central: string | null;
}

/** What a workload needs. */
export interface Need {
  readonly name: string;
  readonly memory: number;
  readonly cpus: number;
}

/** A node that could not be asked, with why. */
export interface Unreachable {
  readonly id: string;
  readonly error: string;
}

export type Choice =
  | { readonly ok: true; readonly node: NodeCapacity }
  | { readonly ok: false; readonly error: string };

/** The default run-directory root on a node. */
export const DEFAULT_RUN_ROOT = "/run/mesh/workloads";

/**
 * POSIX sh for the probe. `${SSH_CONNECTION%% *}` is the address the central
 * node connected from, which is the address the node can fetch /isos/ from.
 */
export const PROBE_COMMAND =
  `echo "mesh-probe root=\${MESH_WORKLOAD_ROOT:-${DEFAULT_RUN_ROOT}}"; ` +
  `echo "mesh-probe central=\${SSH_CONNECTION%% *}"; ` +
  `if [ -c /dev/kvm ]; then echo "mesh-probe kvm=yes"; else echo "mesh-probe kvm=no"; fi; ` +
  `cat /proc/meminfo; echo "mesh-probe nproc=$(nproc)"`;

/** Parses the probe's output; null when MemAvailable or nproc is missing. */
export function parseProbe(id: string, text: string): NodeCapacity | null {
  const tag = (k: string) => new RegExp(`^mesh-probe ${k}=(.*)$`, "m").exec(text)?.[1]?.trim();
  const mem = /^MemAvailable:\s+(\d+)\s*kB$/m.exec(text);
  const cpus = Number(tag("nproc"));
  if (!mem || !(cpus >= 1)) return null;
  const central = tag("central");
  return {
    id,
    memAvailable: Number(mem[1]!) * 1024,
    cpus,
    kvm: tag("kvm") === "yes",
    root: tag("root") || DEFAULT_RUN_ROOT,
    central: central && central !== "" ? central : null,
  };
}

/** 1536 MiB → "1.5 GiB". */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 ? String(v) : v.toFixed(v >= 10 || Number.isInteger(v) ? 0 : 1);
  return `${text} ${units[u]}`;
}

const cpuText = (n: number) => `${n} CPU${n === 1 ? "" : "s"}`;

/** True when `node` can hold `need` (memory within MemAvailable, threads within nproc). */
export function fits(need: Need, node: NodeCapacity): boolean {
  return need.memory <= node.memAvailable && need.cpus <= node.cpus;
}

/** Why `node` cannot hold `need`, as one line. */
export function shortfall(need: Need, node: NodeCapacity): string {
  return `workload ${need.name} needs ${formatSize(need.memory)} of memory and ` +
    `${cpuText(need.cpus)}; node ${node.id} has ${formatSize(node.memAvailable)} free and ` +
    `${cpuText(node.cpus)}; nothing was started`;
}

/**
 * The online node with the most MemAvailable that can hold the workload (ties:
 * more CPUs, then the lower id, so the choice is stable). When none can, one
 * line naming the need and the best node's free memory.
 */
export function chooseNode(
  need: Need,
  nodes: readonly NodeCapacity[],
  unreachable: readonly Unreachable[] = [],
): Choice {
  const ranked = [...nodes].sort((a, b) =>
    b.memAvailable - a.memAvailable || b.cpus - a.cpus || a.id.localeCompare(b.id)
  );
  const node = ranked.find((n) => fits(need, n));
  if (node) return { ok: true, node };
  const best = ranked[0];
  if (best === undefined) {
    const why = unreachable.length === 0
      ? "no node is online (none has a current lease)"
      : `no node answered (${unreachable.map((u) => u.error).join("; ")})`;
    return { ok: false, error: `workload ${need.name}: ${why}; nothing was started` };
  }
  const most = Math.max(...ranked.map((n) => n.cpus));
  return {
    ok: false,
    error: `workload ${need.name} needs ${formatSize(need.memory)} of memory and ` +
      `${cpuText(need.cpus)}; no node can hold it: the best, ${best.id}, has ` +
      `${formatSize(best.memAvailable)} free and ${cpuText(best.cpus)}` +
      // CPUs are the shortfall too: say where the most are.
      (need.cpus > best.cpus && most > best.cpus ? ` (the most CPUs on a node: ${most})` : "") +
      "; nothing was started",
  };
}
