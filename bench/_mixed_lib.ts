/**
 * @module
 * Helpers of bench/mixed.ts: perfdhcp's report (with `-x t` timestamps) read
 * into DORA latencies, percentiles, client processes in a lab namespace that
 * can all be killed by PID, and per-namespace counters.
 */
import type { Lab } from "../tests/lib/netns.ts";

/** One exchange as perfdhcp's `-x t` prints it: sent and received time, in seconds. */
export type Stamp = readonly [sent: number, received: number];

export interface PerfdhcpBlock {
  readonly sent: number;
  readonly received: number;
  readonly drops: number;
  readonly stamps: Stamp[];
}

export interface PerfdhcpReport {
  /** perfdhcp's "Rate: ... 4-way exchanges/second". */
  readonly rate: number;
  readonly discoverOffer: PerfdhcpBlock;
  readonly requestAck: PerfdhcpBlock;
}

function block(out: string, name: string): PerfdhcpBlock {
  const stats = out.split(`***Statistics for: ${name}***`)[1]?.split("***")[0] ?? "";
  const num = (label: string) => Number(new RegExp(`${label}:\\s*(\\d+)`).exec(stats)?.[1] ?? 0);
  const section = out.split(`***Timestamps for packets: ${name}***`)[1]?.split("***")[0] ?? "";
  const stamps: Stamp[] = [];
  for (const m of section.matchAll(/sent \/ received:\s*([\d.]+)\s*\/\s*([\d.]+)/g)) {
    stamps.push([Number(m[1]), Number(m[2])]);
  }
  return {
    sent: num("sent packets"),
    received: num("received packets"),
    drops: num("drops"),
    stamps,
  };
}

/** Reads perfdhcp's final report (DHCPv4, run with `-x t`). */
export function parsePerfdhcp(out: string): PerfdhcpReport {
  return {
    rate: Number(/Rate:\s*([\d.]+)\s*4-way exchanges\/second/.exec(out)?.[1] ?? 0),
    discoverOffer: block(out, "DISCOVER-OFFER"),
    requestAck: block(out, "REQUEST-ACK"),
  };
}

/**
 * Whole DORA latencies (DISCOVER→OFFER + REQUEST→ACK, in ms) of the exchanges
 * that completed. perfdhcp prints the two halves as separate lists; a REQUEST
 * is sent right after its OFFER arrives, so each REQUEST-ACK pairs with the
 * latest not yet paired OFFER received before the REQUEST was sent (within
 * `toleranceS`). Within a batch of OFFERs read at once the pairing may swap
 * neighbours, whose delays are alike. Also returns how many REQUEST-ACKs found
 * no OFFER.
 */
export function doraLatencies(
  discoverOffer: readonly Stamp[],
  requestAck: readonly Stamp[],
  toleranceS = 0.05,
): { ms: number[]; unpaired: number } {
  const offers = discoverOffer.toSorted((a, b) => a[1] - b[1]);
  const used = new Uint8Array(offers.length);
  const requests = requestAck.toSorted((a, b) => a[0] - b[0]);
  const ms: number[] = [];
  let unpaired = 0;
  let j = 0; // offers[0, j) arrived before the current REQUEST was sent
  for (const [sent, received] of requests) {
    while (j < offers.length && offers[j]![1] <= sent) j++;
    let k = j - 1;
    // Bounded walk back over already-paired OFFERs.
    for (let steps = 0; k >= 0 && used[k] && steps < 1024; steps++) k--;
    if (k < 0 || used[k] || sent - offers[k]![1] > toleranceS) {
      unpaired++;
      continue;
    }
    used[k] = 1;
    const o = offers[k]!;
    ms.push((o[1] - o[0] + (received - sent)) * 1000);
  }
  return { ms, unpaired };
}

/** Delays of one list of exchanges, in ms. */
export function delaysMs(stamps: readonly Stamp[]): number[] {
  return stamps.map(([s, r]) => (r - s) * 1000);
}

/** Nearest-rank percentile (p in 0..100) of `xs`; NaN when empty. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = xs.toSorted((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs commands in a lab's namespaces and remembers the ones still running,
 * so that every one of them can be killed by PID (`killAll`).
 */
export class Procs {
  readonly #live = new Set<Deno.ChildProcess>();
  constructor(readonly lab: Lab) {}

  async run(host: string, cmd: readonly string[], timeoutMs: number): Promise<RunResult> {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.lab.ns(host), ...cmd],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#live.add(child);
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }, timeoutMs);
    try {
      const out = await child.output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    } finally {
      clearTimeout(timer);
      this.#live.delete(child);
    }
  }

  /** Processes still running. */
  get live(): number {
    return this.#live.size;
  }

  /** SIGKILLs every process still running (by PID). */
  killAll(): void {
    for (const c of this.#live) {
      try {
        c.kill("SIGKILL");
      } catch { /* exited */ }
    }
  }
}

/** What a group of looping clients did. */
export class LoadStats {
  /** performance.now() of each successful transfer's end. */
  readonly ends: number[] = [];
  failed = 0;
  firstError = "";

  doneBetween(t0: number, t1: number): number {
    return this.ends.filter((t) => t >= t0 && t <= t1).length;
  }
}

/**
 * Starts `clients` loops; each runs `cmd` again and again (at most
 * `maxIterations` times) until `stop()` is called or `deadline`
 * (performance.now()) has passed. `ok` decides whether a run succeeded.
 */
export function startLoops(
  procs: Procs,
  opts: {
    host: string;
    clients: number;
    cmd: readonly string[];
    ok: (r: RunResult) => boolean;
    timeoutMs: number;
    deadline: number;
    maxIterations: number;
  },
): { stats: LoadStats; stop: () => void; done: Promise<void> } {
  const stats = new LoadStats();
  let stopped = false;
  const loop = async () => {
    for (let n = 0; n < opts.maxIterations; n++) {
      if (stopped || performance.now() > opts.deadline) return;
      const r = await procs.run(opts.host, opts.cmd, opts.timeoutMs);
      if (opts.ok(r)) {
        stats.ends.push(performance.now());
      } else if (!stopped) {
        // A run killed at the end of the phase is not a failure.
        stats.failed++;
        if (!stats.firstError) {
          stats.firstError = `exit ${r.code}: ${(r.stderr + r.stdout).trim().split("\n").pop()}`;
        }
      }
    }
  };
  const done = Promise.all(Array.from({ length: opts.clients }, loop)).then(() => {});
  return { stats, stop: () => (stopped = true), done };
}

/** Bytes received on eth0 of a lab host (its namespace's counter). */
export async function rxBytes(lab: Lab, host: string): Promise<number> {
  const r = await lab.exec(host, ["ip", "-j", "-s", "link", "show", "dev", "eth0"]);
  const info = JSON.parse(r.stdout) as { stats64?: { rx?: { bytes?: number } } }[];
  return Number(info[0]?.stats64?.rx?.bytes ?? NaN);
}

/** CPU time (user + system, every thread) a process has used, in seconds. */
export function cpuSeconds(pid: number): number {
  // /proc/PID/stat fields 14 and 15 (utime, stime), in clock ticks (100 per second on Linux),
  // counted after the command name, which is in parentheses and may hold spaces.
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}
