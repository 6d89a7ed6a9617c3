/**
 * @module
 * The lab of bench/storm.ts and what it measures around a run: three
 * namespaces on one bridge (the server, the generator's shared client
 * namespace, the probe's), the server's egress shaped with `tc tbf` (the
 * download direction), the server's UDP and qdisc counters, and its
 * processes' memory and CPU read from /proc.
 */
import { createLab, type Lab } from "../tests/lib/netns.ts";

export const SRV = "10.97.0.1";
export const PREFIX = 16;
/** Both server kinds hand out this range (far more than --nodes plus the probe's MACs). */
export const POOL = ["10.97.1.1", "10.97.15.254"] as const;
/** The client namespace's own address (outside the pool). */
export const ANCHOR = "10.97.255.250";

/** "1gbit", "10gbit", "500mbit" (tc's decimal units) in bits per second. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(k|m|g)?bit$/i.exec(text.trim());
  if (!m) throw new Error(`--link ${text}: expected e.g. 1gbit, 10gbit, 500mbit`);
  const mult = { k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? "").toLowerCase() as "k" | "m" | "g"] ?? 1;
  return Number(m[1]) * mult;
}

/**
 * The storm's lab. The token bucket holds 10 ms of traffic (a smaller one
 * cannot reach the rate at the kernel's timer granularity) and queues 20 ms,
 * about what a switch port buffers.
 */
export async function createStormLab(rateBits: number): Promise<Lab> {
  const burst = Math.max(64_000, Math.round(rateBits / 8 / 100));
  const lab = await createLab("st", [
    {
      name: "srv",
      address: `${SRV}/${PREFIX}`,
      netem: ["tbf", "rate", `${rateBits}bit`, "burst", `${burst}`, "latency", "20ms"],
    },
    { name: "cli" },
    { name: "prb" },
  ]);
  try {
    for (const host of ["cli", "prb"]) {
      // Replies to the simulated MACs are addressed to MACs the veth does not own.
      await must(lab, host, ["ip", "link", "set", "eth0", "promisc", "on"]);
    }
    // The nodes' leased /32s come and go; the kernel drops a device's routes
    // with its last IPv4 address, so an address outside the pool anchors the
    // on-link route (every socket of the generator binds a node's own address).
    await must(lab, "cli", ["ip", "addr", "add", `${ANCHOR}/${PREFIX}`, "dev", "eth0"]);
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
  return lab;
}

async function must(lab: Lab, host: string, cmd: string[]): Promise<void> {
  const r = await lab.exec(host, cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} in ${host}: ${r.stderr.trim()}`);
}

/** Counters of a namespace (the server's, the generator's): UDP receive errors, qdisc drops. */
export interface Counters {
  readonly udpInErrors: number;
  readonly udpRcvbufErrors: number;
  readonly udpNoPorts: number;
  readonly qdiscDropped: number;
  readonly qdiscOverlimits: number;
  readonly qdiscSentBytes: number;
  /** Kernel-wide (the neighbour table is shared by all namespaces): times it was full. */
  readonly arpTableFulls: number;
  /**
   * Kernel-wide: packets dropped because a CPU's input backlog was full
   * (netdev_max_backlog); a veth hands every frame to its peer through it.
   */
  readonly backlogDrops: number;
}

export async function readCounters(lab: Lab, host = "srv"): Promise<Counters> {
  const snmp = (await lab.exec(host, ["cat", "/proc/net/snmp"])).stdout.split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const names = (snmp[0] ?? "").split(/\s+/);
  const values = (snmp[1] ?? "").split(/\s+/).map(Number);
  const udp = (k: string) => values[names.indexOf(k)] ?? NaN;
  const tc = (await lab.exec(host, ["tc", "-s", "qdisc", "show", "dev", "eth0"])).stdout;
  const num = (re: RegExp) => Number(re.exec(tc)?.[1] ?? NaN);
  let arpTableFulls = NaN;
  try {
    // Header, then one row per CPU of hex columns; table_fulls is the last but few.
    const rows = Deno.readTextFileSync("/proc/net/stat/arp_cache").trim().split("\n");
    const head = rows[0]!.split(/\s+/);
    const col = head.indexOf("table_fulls");
    arpTableFulls = rows.slice(1).reduce((n, r) => n + parseInt(r.split(/\s+/)[col] ?? "0", 16), 0);
  } catch { /* not on this kernel */ }
  let backlogDrops = NaN;
  try {
    backlogDrops = Deno.readTextFileSync("/proc/net/softnet_stat").trim().split("\n")
      .reduce((n, r) => n + parseInt(r.split(/\s+/)[1] ?? "0", 16), 0);
  } catch { /* not on this kernel */ }
  return {
    udpInErrors: udp("InErrors"),
    udpRcvbufErrors: udp("RcvbufErrors"),
    udpNoPorts: udp("NoPorts"),
    qdiscDropped: num(/dropped (\d+)/),
    qdiscOverlimits: num(/overlimits (\d+)/),
    qdiscSentBytes: num(/Sent (\d+) bytes/),
    arpTableFulls,
    backlogDrops,
  };
}

/** The difference of two counter readings. */
export function counterDelta(a: Counters, b: Counters): Counters {
  const out: Record<string, number> = {};
  for (const k of Object.keys(a) as (keyof Counters)[]) out[k] = b[k] - a[k];
  return out as unknown as Counters;
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      for (const c of text.split(/\s+/).filter(Boolean)) out.push(Number(c));
    }
  } catch { /* gone */ }
  return out;
}

/** A process and its descendants (nginx's workers), bounded in depth. */
function tree(roots: readonly number[]): number[] {
  const seen = new Set<number>();
  let level = [...roots];
  for (let depth = 0; depth < 4 && level.length > 0; depth++) {
    const next: number[] = [];
    for (const p of level) {
      if (seen.has(p)) continue;
      seen.add(p);
      next.push(...children(p));
    }
    level = next;
  }
  return [...seen];
}

function kb(pid: number, key: string): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** What ProcSampler saw of a process tree. */
export interface ProcStats {
  /** Largest sum of VmRSS over the tree in one sample (a forked helper counts its copy). */
  readonly peakRssMiB: number;
  /** Sum of VmHWM (each one's own peak) of the processes alive at the end: the servers proper. */
  readonly hwmSumMiB: number;
  readonly cpuSeconds: number;
  /** Short-lived helpers seen (not alive at the end), by command name. */
  readonly helpers: Record<string, number>;
}

/**
 * Samples a process tree every 250 ms: memory (see ProcStats), command names
 * and CPU seconds (user + system) since the start. A root's CPU includes the
 * children it reaped (cutime/cstime), so helpers that come and go between
 * two samples are counted too; a descendant is added only while it is alive
 * at the end.
 */
export class ProcSampler {
  #peakRssKb = 0;
  readonly #cpu0 = new Map<number, number>();
  #live = new Map<number, number>();
  readonly #hwm = new Map<number, number>();
  readonly #comms = new Map<number, string>();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(readonly roots: readonly number[]) {
    for (const p of tree(roots)) this.#cpu0.set(p, cpuOf(p, roots.includes(p)));
    this.#timer = setInterval(() => this.#sample(), 250);
    this.#sample();
  }

  #sample(): void {
    let rss = 0;
    const live = new Map<number, number>();
    for (const p of tree(this.roots)) {
      rss += kb(p, "VmRSS");
      this.#hwm.set(p, Math.max(this.#hwm.get(p) ?? 0, kb(p, "VmHWM")));
      if (!this.#comms.has(p)) this.#comms.set(p, comm(p));
      const c = cpuOf(p, this.roots.includes(p));
      if (Number.isFinite(c)) live.set(p, c);
      if (!this.#cpu0.has(p)) this.#cpu0.set(p, 0); // started during the run
    }
    for (const r of this.roots) {
      if (!live.has(r) && this.#live.has(r)) live.set(r, this.#live.get(r)!);
    }
    this.#live = live;
    this.#peakRssKb = Math.max(this.#peakRssKb, rss);
  }

  stop(): ProcStats {
    this.#sample();
    clearInterval(this.#timer);
    let cpu = 0;
    let hwm = 0;
    for (const [p, c] of this.#live) {
      cpu += c - (this.#cpu0.get(p) ?? 0);
      hwm += this.#hwm.get(p) ?? 0;
    }
    const helpers: Record<string, number> = {};
    for (const [p, c] of this.#comms) if (!this.#live.has(p)) helpers[c] = (helpers[c] ?? 0) + 1;
    return { peakRssMiB: this.#peakRssKb / 1024, hwmSumMiB: hwm / 1024, cpuSeconds: cpu, helpers };
  }
}

function comm(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
  } catch {
    return "?";
  }
}

/** utime + stime (+ cutime + cstime of reaped children), in s; NaN once gone. */
function cpuOf(pid: number, withChildren: boolean): number {
  try {
    // Fields 14-17 of /proc/PID/stat, counted after the parenthesised command name.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    const own = f[11]! + f[12]!;
    return (withChildren ? own + f[13]! + f[14]! : own) / 100;
  } catch {
    return NaN;
  }
}
