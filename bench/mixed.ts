/**
 * Mixed-load benchmark: DHCP latency of ONE `mesh serve` daemon while its
 * TFTP and HTTP servers are busy. The daemon runs in a lab namespace (a lab
 * /host0 from tests/lib/mesh_daemon.ts); perfdhcp (Kea's load generator),
 * the TFTP clients and the HTTP clients each run in a namespace of their own
 * on the same lab switch. Phases, one table row each:
 *
 *  1. "dhcp alone": perfdhcp only, --rate DORA/s for --seconds.
 *  2. "mixed": the same perfdhcp run while --tftp-clients atftp clients fetch
 *     a 4 MiB file from the daemon's TFTP root (blksize 1468, lock-step),
 *     each again and again, and --http-clients curl clients download a 64 MiB
 *     file from its HTTP server (/boot/, the same directory), again and again.
 *  3. "mixed, one core busy": as 2, while a shell loop keeps one core busy
 *     (`timeout N sh -c 'while :; do :; done'`, killed by PID at the end).
 *
 * Per phase: DORA/s (perfdhcp's rate), drops (DORAs lost at either half, per
 * DISCOVER sent; perfdhcp counts an answer later than 1 s as a drop), DORA
 * latency p50/p99/max (DISCOVER→OFFER + REQUEST→ACK of each completed
 * exchange, from perfdhcp's `-x t` timestamps), the p99 of each half, the
 * daemon's CPU (share of one core), and for the mixed phases the clients'
 * aggregate receive rate (eth0 rx bytes of their namespace, so protocol
 * headers included, ~3 %) and the transfers that completed while perfdhcp
 * ran. The load starts 2 s before perfdhcp; after it, clients start nothing
 * new and transfers in flight get up to 10 s to finish before they are killed
 * (a slow 4 MiB TFTP transfer may never complete within a phase: its progress
 * still shows in the MiB/s column, not in "done").
 *
 * Before the phases a warm-up perfdhcp run gives every one of its --clients
 * MACs a lease, so that no phase pays for ARP-probing fresh addresses (300 ms
 * each) and the phases differ only in the load beside DHCP.
 *
 *   deno run -A bench/mixed.ts        (root; perfdhcp, atftp, curl; ~2 minutes)
 *   deno task bench mixed
 *   deno run -A bench/mixed.ts --rate 200 --seconds 20 --tftp-clients 50 --http-clients 20 \
 *       --clients 500 --phases alone,mixed,busy
 */
import {
  type Daemon,
  installLabBootFiles,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../tests/lib/mesh_daemon.ts";
import { createLab, labSkipReason } from "../tests/lib/netns.ts";
import {
  cpuSeconds,
  delaysMs,
  doraLatencies,
  type LoadStats,
  parsePerfdhcp,
  percentile,
  Procs,
  rxBytes,
  startLoops,
} from "./_mixed_lib.ts";

const USAGE = "usage: deno run -A bench/mixed.ts [--rate 200] [--seconds 20] [--tftp-clients 50]" +
  " [--http-clients 20] [--clients 500] [--phases alone,mixed,busy]";

function flag(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? dflt : dflt;
}
function intFlag(name: string, dflt: number, min: number, max: number): number {
  const v = Number(flag(name, String(dflt)));
  if (!Number.isInteger(v) || v < min || v > max) {
    console.error(`bench/mixed: --${name} must be an integer in ${min}..${max}\n${USAGE}`);
    Deno.exit(2);
  }
  return v;
}

const RATE = intFlag("rate", 200, 1, 100_000);
const SECONDS = intFlag("seconds", 20, 1, 600);
const TFTP_CLIENTS = intFlag("tftp-clients", 50, 0, 500);
const HTTP_CLIENTS = intFlag("http-clients", 20, 0, 500);
/** perfdhcp's -R: distinct client MACs. */
const CLIENTS = intFlag("clients", 500, 1, 8000);

interface Phase {
  readonly key: string;
  readonly name: string;
  readonly load: boolean;
  readonly busy: boolean;
}
const ALL_PHASES: readonly Phase[] = [
  { key: "alone", name: "dhcp alone", load: false, busy: false },
  { key: "mixed", name: "mixed", load: true, busy: false },
  { key: "busy", name: "mixed, one core busy", load: true, busy: true },
];
const PHASES = flag("phases", "alone,mixed,busy").split(",").map((k) => {
  const p = ALL_PHASES.find((x) => x.key === k.trim());
  if (!p) {
    console.error(`bench/mixed: unknown phase "${k}" (alone, mixed, busy)\n${USAGE}`);
    Deno.exit(2);
  }
  return p;
});

const SRV = "10.97.0.1";
const POOL = ["10.97.1.1", "10.97.40.254"] as const; // ~10,000 addresses
const MiB = 1024 * 1024;
const TFTP_FILE = "bench-mixed-4m.bin";
const TFTP_SIZE = 4 * MiB;
const TFTP_BLKSIZE = 1468;
const HTTP_FILE = "bench-mixed-64m.bin";
const HTTP_SIZE = 64 * MiB;
const RAMP_MS = 2000;
const DRAIN_MS = 10_000;
const PERFDHCP_SLACK_MS = 30_000;

interface Row {
  readonly phase: Phase;
  readonly rate: number;
  readonly dropsPct: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly offerP99: number;
  readonly ackP99: number;
  readonly unpaired: number;
  readonly daemonCpu: number;
  readonly tftp?: { mibps: number; done: number; failed: number; error: string };
  readonly http?: { mibps: number; done: number; failed: number; error: string };
  readonly note?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fills a file with a cheap non-repeating pattern (one word per 4 KiB page). */
async function writeBigFile(path: string, size: number): Promise<void> {
  const b = new Uint8Array(size);
  let x = 1;
  for (let i = 0; i < size; i += 4096) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x & 0xff;
  }
  await Deno.writeFile(path, b);
}

function perfdhcpArgs(rate: number, seconds: number, timestamps: boolean): string[] {
  // Single-threaded (see bench/dhcp.ts): the multi-threaded sender spins a core.
  // perfdhcp works as a relay: it needs an address and gets the replies at giaddr:67.
  return [
    "perfdhcp",
    "-4",
    "-g",
    "single",
    "-l",
    "eth0",
    "-r",
    String(rate),
    "-R",
    String(CLIENTS),
    "-p",
    String(seconds),
    ...(timestamps ? ["-x", "t"] : []),
  ];
}

async function main(): Promise<number> {
  const skip = labSkipReason(["perfdhcp", "atftp", "curl", "timeout", "sh"]);
  if (skip) {
    console.log(`bench/mixed: skipped (${skip})`);
    return 0;
  }
  const loadBefore = Deno.loadavg();
  const tmp = await Deno.makeTempDir({ prefix: "mesh-bench-mixed-" });
  const lab = await createLab("bmx", [
    { name: "srv", address: `${SRV}/16` },
    { name: "dhcp", address: "10.97.0.2/16" },
    { name: "tftp", address: "10.97.0.3/16" },
    { name: "http", address: "10.97.0.4/16" },
  ]);
  const procs = new Procs(lab);
  let daemon: Daemon | undefined;
  try {
    const host0 = `${tmp}/host0`;
    const state = `${tmp}/state`;
    await writeLabHost0(host0, {
      state,
      srv: SRV,
      pool: POOL,
      // All TFTP (HTTP) clients come from one address: lift the per-client limits (8 and 64).
      extraYaml: `tftp:\n  per_client: ${Math.max(8, TFTP_CLIENTS + 8)}\n` +
        `http:\n  max_per_client: ${Math.max(64, HTTP_CLIENTS + 8)}\n`,
    });
    // The daemon wants a kernel and initrd to point boot scripts at; no VM boots here.
    await Deno.writeTextFile(`${tmp}/dummy`, "not a kernel\n");
    await installLabBootFiles(state, { kernel: `${tmp}/dummy`, initrd: `${tmp}/dummy` });
    // TFTP root and HTTP /boot/ are the same directory: <state>/boot.
    await writeBigFile(`${state}/boot/${TFTP_FILE}`, TFTP_SIZE);
    await writeBigFile(`${state}/boot/${HTTP_FILE}`, HTTP_SIZE);
    // Where Debian's ipxe package is missing, stand-ins let the daemon start (no VM boots).
    for (const f of ["undionly.kpxe", "snponly.efi"]) {
      try {
        await Deno.stat(`/usr/lib/ipxe/${f}`);
      } catch {
        await Deno.writeTextFile(`${state}/boot/${f}`, "stand-in\n");
      }
    }

    daemon = startDaemon(lab, "srv", host0);
    await daemon.ready;
    const pid = daemon.child.pid;

    // Both servers answer before anything is measured.
    const tftpCmd = [
      "atftp",
      "-g",
      "-r",
      TFTP_FILE,
      "-l",
      "/dev/null",
      "--option",
      `blksize ${TFTP_BLKSIZE}`,
      SRV,
      "69",
    ];
    const httpCmd = [
      "curl",
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download}",
      "--max-time",
      "120",
      `http://${SRV}/boot/${HTTP_FILE}`,
    ];
    const httpOk = (r: { code: number; stdout: string }) =>
      r.code === 0 && r.stdout.trim() === `200 ${HTTP_SIZE}`;
    const t = await procs.run("tftp", tftpCmd, 30_000);
    if (t.code !== 0) throw new Error(`TFTP check failed: ${t.stderr.trim()}`);
    const h = await procs.run("http", httpCmd, 30_000);
    if (!httpOk(h)) throw new Error(`HTTP check failed: ${h.stdout} ${h.stderr.trim()}`);

    // Warm-up: every perfdhcp MAC gets its lease (about 6 DORAs per MAC, at most 10 s).
    const warmRate = Math.max(RATE, 500);
    const warmSeconds = Math.min(10, Math.max(2, Math.ceil((6 * CLIENTS) / warmRate)));
    const warm = await lab.exec("dhcp", perfdhcpArgs(warmRate, warmSeconds, false), {
      timeoutMs: warmSeconds * 1000 + PERFDHCP_SLACK_MS,
    });
    const warmReport = parsePerfdhcp(warm.stdout);
    console.log(
      `warm-up: perfdhcp -R ${CLIENTS} at ${warmRate}/s for ${warmSeconds} s: ${
        warmReport.rate.toFixed(0)
      } DORA/s, ${warmReport.requestAck.received} ACKs`,
    );
    if (warmReport.requestAck.received === 0) {
      throw new Error(`perfdhcp got no ACK in the warm-up: ${warm.stderr.trim()}`);
    }
    await sleep(1000);

    const rows: Row[] = [];
    for (const phase of PHASES) {
      const row = await runPhase(phase, procs, pid, tftpCmd, httpCmd, httpOk);
      rows.push(row);
      console.log(`  ${phase.name}: ${summary(row)}`);
      await sleep(1000);
    }
    printTable(rows, loadBefore);
    return 0;
  } finally {
    procs.killAll();
    if (daemon) await stopDaemon(daemon).catch(() => {});
    await lab.cleanup();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function runPhase(
  phase: Phase,
  procs: Procs,
  daemonPid: number,
  tftpCmd: readonly string[],
  httpCmd: readonly string[],
  httpOk: (r: { code: number; stdout: string }) => boolean,
): Promise<Row> {
  const lab = procs.lab;
  // Hard end of every client loop, whatever happens.
  const deadline = performance.now() + RAMP_MS + SECONDS * 1000 + PERFDHCP_SLACK_MS;
  const loops = phase.load
    ? [
      startLoops(procs, {
        host: "tftp",
        clients: TFTP_CLIENTS,
        cmd: tftpCmd,
        ok: (r) => r.code === 0,
        timeoutMs: 120_000,
        deadline,
        maxIterations: 10_000,
      }),
      startLoops(procs, {
        host: "http",
        clients: HTTP_CLIENTS,
        cmd: httpCmd,
        ok: httpOk,
        timeoutMs: 120_000,
        deadline,
        maxIterations: 10_000,
      }),
    ]
    : [];
  let busy: Deno.ChildProcess | undefined;
  try {
    if (phase.busy) {
      // `timeout` bounds it even if this process dies; SIGTERM to it ends the loop too.
      busy = lab.spawn("http", [
        "timeout",
        String(Math.ceil((RAMP_MS + DRAIN_MS) / 1000) + SECONDS + 30),
        "sh",
        "-c",
        "while :; do :; done",
      ]);
    }
    if (phase.load || phase.busy) await sleep(RAMP_MS);
    const rx0 = phase.load ? [await rxBytes(lab, "tftp"), await rxBytes(lab, "http")] : [0, 0];
    const cpu0 = cpuSeconds(daemonPid);
    const t0 = performance.now();
    const r = await lab.exec("dhcp", perfdhcpArgs(RATE, SECONDS, true), {
      timeoutMs: SECONDS * 1000 + PERFDHCP_SLACK_MS,
    });
    const t1 = performance.now();
    const cpu1 = cpuSeconds(daemonPid);
    const rx1 = phase.load ? [await rxBytes(lab, "tftp"), await rxBytes(lab, "http")] : [0, 0];
    const secs = (t1 - t0) / 1000;

    const p = parsePerfdhcp(r.stdout);
    const dora = doraLatencies(p.discoverOffer.stamps, p.requestAck.stamps);
    const sent = p.discoverOffer.sent;
    const load = (i: number, stats: LoadStats) => ({
      mibps: (rx1[i]! - rx0[i]!) / MiB / secs,
      done: stats.doneBetween(t0, t1),
      failed: stats.failed,
      error: stats.firstError,
    });
    return {
      phase,
      rate: p.rate,
      dropsPct: sent > 0 ? (100 * (p.discoverOffer.drops + p.requestAck.drops)) / sent : 100,
      p50: percentile(dora.ms, 50),
      p99: percentile(dora.ms, 99),
      max: percentile(dora.ms, 100),
      offerP99: percentile(delaysMs(p.discoverOffer.stamps), 99),
      ackP99: percentile(delaysMs(p.requestAck.stamps), 99),
      unpaired: dora.unpaired,
      daemonCpu: (cpu1 - cpu0) / secs,
      ...(loops[0] ? { tftp: load(0, loops[0].stats) } : {}),
      ...(loops[1] ? { http: load(1, loops[1].stats) } : {}),
      ...(p.rate === 0
        ? { note: `perfdhcp exit ${r.code}: ${r.stderr.trim().split("\n").pop() ?? ""}` }
        : {}),
    };
  } finally {
    if (busy) {
      try {
        busy.kill("SIGTERM");
      } catch { /* exited */ }
      await busy.status;
    }
    for (const l of loops) l.stop();
    // Transfers in flight may finish (bounded), then whatever is left is killed by PID.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(loops.map((l) => l.done)),
      new Promise((res) => (timer = setTimeout(res, DRAIN_MS))),
    ]);
    clearTimeout(timer);
    procs.killAll();
    await Promise.all(loops.map((l) => l.done));
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "n/a");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

function summary(r: Row): string {
  const parts = [
    `${r.rate.toFixed(0)} DORA/s`,
    `drops ${f2(r.dropsPct)} %`,
    `DORA p50 ${f2(r.p50)} ms, p99 ${f2(r.p99)} ms, max ${f1(r.max)} ms`,
    `daemon CPU ${(r.daemonCpu * 100).toFixed(0)} %`,
  ];
  if (r.unpaired > 0) parts.push(`${r.unpaired} ACKs without their OFFER`);
  for (const [name, l] of [["TFTP", r.tftp], ["HTTP", r.http]] as const) {
    if (!l) continue;
    parts.push(
      `${name} ${f1(l.mibps)} MiB/s, ${l.done} done, ${l.failed} failed${
        l.error ? ` (${l.error})` : ""
      }`,
    );
  }
  if (r.note) parts.push(r.note);
  return parts.join("; ");
}

function printTable(rows: readonly Row[], loadBefore: readonly number[]): void {
  console.log(
    `\nmesh serve under mixed load: perfdhcp -g single -R ${CLIENTS} at ${RATE} DORA/s for ${SECONDS} s per phase; ` +
      `${TFTP_CLIENTS} atftp clients looping on ${
        TFTP_SIZE / MiB
      } MiB (blksize ${TFTP_BLKSIZE}), ` +
      `${HTTP_CLIENTS} curl clients looping on ${
        HTTP_SIZE / MiB
      } MiB; ${navigator.hardwareConcurrency} cores, ` +
      `load average before: ${loadBefore.map((x) => x.toFixed(2)).join(" ")}`,
  );
  const header = [
    "phase",
    "DORA/s",
    "drops %",
    "p50 ms",
    "p99 ms",
    "max ms",
    "D-O p99",
    "R-A p99",
    "daemon CPU",
    "TFTP MiB/s",
    "TFTP done",
    "HTTP MiB/s",
    "HTTP done",
  ];
  const lines = rows.map((r) => [
    r.phase.name,
    r.rate.toFixed(0),
    f2(r.dropsPct),
    f2(r.p50),
    f2(r.p99),
    f1(r.max),
    f2(r.offerP99),
    f2(r.ackP99),
    `${(r.daemonCpu * 100).toFixed(0)} %`,
    r.tftp ? f1(r.tftp.mibps) : "-",
    r.tftp ? `${r.tftp.done}${r.tftp.failed ? ` (${r.tftp.failed} failed)` : ""}` : "-",
    r.http ? f1(r.http.mibps) : "-",
    r.http ? `${r.http.done}${r.http.failed ? ` (${r.http.failed} failed)` : ""}` : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const show = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(show(header));
  for (const l of lines) console.log(show(l));
  console.log(
    "DORA latency = DISCOVER→OFFER + REQUEST→ACK per completed exchange (perfdhcp -x t); " +
      "D-O/R-A p99: each half alone. drops: DORAs lost at either half per DISCOVER " +
      "(perfdhcp counts answers after 1 s as lost). MiB/s: eth0 rx of the clients' namespace " +
      "while perfdhcp ran (headers included); done: transfers that completed in that time. " +
      "daemon CPU: share of one core.",
  );
}

if (import.meta.main) Deno.exit(await main());
