/**
 * The boot storm (issue #20): N simulated nodes switched on within one
 * second walk the whole PXE path at once (firmware DHCP, TFTP of iPXE, DHCP
 * as iPXE, the HTTP script, kernel and initrd, DHCP as Linux, the overlay,
 * the online report) over one link shaped with `tc tbf`, against each server
 * in turn, each on a fresh lab: mesh serve; dnsmasq (default options) +
 * nginx; dnsmasq --no-ping --tftp-max=N+50 + nginx. A probe sends a DISCOVER
 * every 100 ms throughout, for the DHCP latency while the downloads run.
 *
 *   deno run -A bench/storm.ts [--nodes 200] [--link 1gbit] [--kernel-mib 12]
 *     [--initrd-mib 25] [--servers mesh,dnsmasq,dnsmasq-tuned] [--json FILE]
 *
 * The generator (bench/_storm_gen.ts) and the probe (bench/_storm_probe.ts)
 * are processes of their own in their namespaces; their timelines come back
 * as JSON files. A node not online within 3 x the physical floor + 120 s has
 * failed. Exit code 1 when a mesh node failed or a server could not be
 * measured (dnsmasq's default limits losing nodes is a result, not an error).
 * Needs root, dnsmasq, nginx, tc and curl.
 */
import { labSkipReason } from "../tests/lib/netns.ts";
import {
  counterDelta,
  createStormLab,
  parseRate,
  ProcSampler,
  readCounters,
} from "./_storm_lab.ts";
import { summarize, type Summary, table } from "./_storm_report.ts";
import { SERVER_NAMES, type ServerName, startServer } from "./_storm_servers.ts";
import type { GenConfig, GenResult, NodeSpec, ProbeConfig, ProbeResult } from "./_storm_types.ts";

function flag(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? dflt : dflt;
}
const NODES = Number(flag("nodes", "200"));
const LINK = flag("link", "1gbit");
const RATE = parseRate(LINK);
const KERNEL_MIB = Number(flag("kernel-mib", "12"));
const INITRD_MIB = Number(flag("initrd-mib", "25"));
const SERVERS = flag("servers", SERVER_NAMES.join(",")).split(",").filter(Boolean) as ServerName[];
const JSON_OUT = flag("json", "");
const BENCH = new URL(".", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const CACHE = "/tmp/mesh-storm-cache";
/** mesh's own counters worth a line after its run (all of them go to --json). */
const SHOWN_METRICS = [
  "mesh_event_loop_delay_max_seconds",
  "mesh_tftp_retransmits_total",
  "mesh_tftp_refused_total",
  "mesh_dhcp_dropped_total",
  "mesh_http_errors_total",
  "mesh_process_heap_used_bytes",
];

const reason = labSkipReason(["dnsmasq", "nginx", "tc", "curl"]);
if (reason !== null) {
  console.log(`bench/storm: skipped: ${reason}`);
  Deno.exit(0);
}
for (const s of SERVERS) {
  if (!SERVER_NAMES.includes(s)) throw new Error(`--servers: unknown ${s} (${SERVER_NAMES})`);
}
if (!(NODES >= 1 && NODES <= 4000)) throw new Error("--nodes must be 1..4000");

/** Random kernel/initrd of the asked sizes, written once and reused across runs. */
async function bootFile(name: string, mib: number): Promise<string> {
  await Deno.mkdir(CACHE, { recursive: true });
  const path = `${CACHE}/${name}-${mib}mib.bin`;
  const size = Math.round(mib * 1024 * 1024);
  if ((await Deno.stat(path).catch(() => null))?.size === size) return path;
  const f = await Deno.open(`${path}.part`, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(65536);
  for (let left = size; left > 0; left -= chunk.length) {
    crypto.getRandomValues(chunk);
    await f.write(chunk.subarray(0, Math.min(left, chunk.length)));
  }
  f.close();
  await Deno.rename(`${path}.part`, path);
  return path;
}

const files = {
  kernel: await bootFile("kernel", KERNEL_MIB),
  initrd: await bootFile("initrd", INITRD_MIB),
};
const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
const nodes: NodeSpec[] = Array.from({ length: NODES }, (_, i) => ({
  mac: `02:53:54:${hex(i >> 16, 2)}:${hex((i >> 8) & 255, 2)}:${hex(i & 255, 2)}`,
  uuid: `6d657368-7374-4000-8000-${hex(i, 12)}`,
  // BIOS and x64 UEFI alternate; every fifth ROM is an old one with 512-byte TFTP blocks.
  arch: i % 2 === 0 ? 0 : 7,
  blksize: i % 5 === 4 ? 512 : 1432,
}));
const size = (p: string) => Deno.statSync(p).size;
const planned = nodes.reduce(
  (n, s) =>
    n + size(files.kernel) + size(files.initrd) +
    size(`/usr/lib/ipxe/${s.arch === 0 ? "undionly.kpxe" : "snponly.efi"}`),
  0,
);
// What the same bytes take on the wire: a TCP segment carries 1448 of its 1514
// bytes (Ethernet, IP, TCP with timestamps), a TFTP block adds 46 (Ethernet,
// IP, UDP, TFTP). tbf counts these frame bytes, so no server can beat this.
const plannedWire = nodes.reduce(
  (n, s) =>
    n + ((size(files.kernel) + size(files.initrd)) * 1514) / 1448 +
    (size(`/usr/lib/ipxe/${s.arch === 0 ? "undionly.kpxe" : "snponly.efi"}`) *
        (s.blksize + 46)) / s.blksize,
  0,
);
const floorS = (planned * 8) / RATE;
const wireFloorS = (plannedWire * 8) / RATE;
const boundMs = Math.round(3 * floorS * 1000 + 120_000);
console.log(
  `boot storm: ${NODES} nodes, link ${LINK}, kernel ${KERNEL_MIB} MiB + initrd ${INITRD_MIB} MiB` +
    `: ${(planned / 2 ** 30).toFixed(2)} GiB in all, physical floor ${floorS.toFixed(1)} s ` +
    `(${wireFloorS.toFixed(1)} s with the frames' headers), ` +
    `a node not online after ${(boundMs / 1000).toFixed(0)} s has failed`,
);

let abort: (() => Promise<void>) | null = null;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, async () => {
    console.error(`\nbench/storm: ${sig}: cleaning up`);
    await abort?.();
    Deno.exit(130);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deno = (script: string, cfg: string) => [
  Deno.execPath(),
  ...["run", "-A", "--cached-only", "--config", CONFIG, `${BENCH}${script}`, cfg],
];

/** Waits up to `ms` for a child to exit; true when it did. */
async function exited(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const ok = await Promise.race([child.status.then(() => true as const), late]);
  clearTimeout(timer);
  return ok;
}

/** Waits for a child; after `ms` it gets SIGTERM, 5 s later SIGKILL. True when it exited by itself. */
async function within(child: Deno.ChildProcess, ms: number): Promise<boolean> {
  if (await exited(child, ms)) return true;
  for (const sig of ["SIGTERM", "SIGKILL"] as const) {
    try {
      child.kill(sig);
    } catch { /* gone */ }
    if (await exited(child, 5000)) break;
  }
  return false;
}

interface Run {
  readonly summary: Summary;
  readonly serverLog: Record<string, number>;
  readonly serverMetrics: Record<string, number>;
  readonly gen: GenResult;
  readonly probe: ProbeResult;
}

async function runOne(server: ServerName): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-storm-" });
  const lab = await createStormLab(RATE);
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  abort = cleanup;
  try {
    console.log(`\n[${server}] starting in ${lab.ns("srv")}`);
    const srv = await startServer(server, lab, `${dir}/srv`, files, NODES, RATE);
    const before = await readCounters(lab);
    const cliBefore = await readCounters(lab, "cli");
    const sampler = new ProcSampler(srv.pids);
    const probeCfg: ProbeConfig = {
      iface: "eth0",
      // Two MACs: dnsmasq pings every address it offers anew (once per 30 s per
      // address), and a probe with many MACs would add its own pings to the storm's.
      macs: ["02:50:52:00:00:01", "02:50:52:00:00:02"],
      intervalMs: 100,
      timeoutMs: 5000,
      stopFile: `${dir}/probe.stop`,
      maxMs: boundMs + 120_000,
      out: `${dir}/probe.json`,
    };
    const genCfg: GenConfig = {
      iface: "eth0",
      nodes,
      spreadMs: 1000,
      boundMs,
      out: `${dir}/gen.json`,
    };
    await Deno.writeTextFile(`${dir}/probe.cfg.json`, JSON.stringify(probeCfg));
    await Deno.writeTextFile(`${dir}/gen.cfg.json`, JSON.stringify(genCfg));
    const probe = lab.spawn("prb", deno("_storm_probe.ts", `${dir}/probe.cfg.json`), {
      stderr: "inherit",
    });
    await sleep(1000); // a second of the idle server's DHCP latency first
    const started = performance.now();
    const gen = lab.spawn("cli", deno("_storm_gen.ts", `${dir}/gen.cfg.json`), {
      stderr: "inherit",
    });
    const genSampler = new ProcSampler([gen.pid]);
    const genOk = await within(gen, boundMs + 60_000);
    const genProc = genSampler.stop();
    console.log(
      `[${server}] generator ${genOk ? "done" : "KILLED (overran)"} after ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    await sleep(500);
    await Deno.writeTextFile(probeCfg.stopFile, "");
    await within(probe, 15_000);
    const proc = sampler.stop();
    const after = await readCounters(lab);
    const cliAfter = await readCounters(lab, "cli");
    const genResult = JSON.parse(await Deno.readTextFile(genCfg.out)) as GenResult;
    const probeResult = JSON.parse(
      await Deno.readTextFile(probeCfg.out).catch(() => '{"samples":[]}'),
    ) as ProbeResult;
    const s = summarize({
      server,
      gen: genResult,
      probe: probeResult,
      rateBits: RATE,
      plannedBytes: planned,
      wireFloorS,
      proc,
      genProc,
      counters: { before, after },
      clientCounters: { before: cliBefore, after: cliAfter },
    });
    console.log(
      `[${server}] ${s.online}/${s.nodes} online` +
        (Number.isFinite(s.stormS) ? ` in ${s.stormS.toFixed(1)} s` : "") +
        `; server counters (delta): ${JSON.stringify(counterDelta(before, after))}` +
        `; generator's: ${JSON.stringify(counterDelta(cliBefore, cliAfter))}`,
    );
    if (s.failed > 0) {
      console.log(`[${server}] failures:\n  ${s.errors.join("\n  ")}`);
      console.log(`[${server}] server diagnostics:\n${await srv.diagnostics()}`);
    }
    const serverLog = await srv.logKinds();
    const serverMetrics = await srv.metrics();
    const pick = Object.entries(serverMetrics).filter(([k]) =>
      SHOWN_METRICS.some((m) => k.startsWith(m))
    );
    if (pick.length > 0) {
      console.log(`[${server}] its metrics: ${pick.map(([k, v]) => `${k} ${v}`).join(", ")}`);
    }
    await srv.stop();
    console.log(table([s]));
    return { summary: s, serverLog, serverMetrics, gen: genResult, probe: probeResult };
  } finally {
    await cleanup();
    abort = null;
  }
}

const runs: Run[] = [];
const broken: string[] = [];
for (const server of SERVERS) {
  // A server that cannot be started or measured is reported; the others still run.
  try {
    runs.push(await runOne(server));
  } catch (e) {
    broken.push(server);
    console.log(`[${server}] FAILED: ${e instanceof Error ? e.stack ?? e.message : e}`);
  }
}
const results = runs.map((r) => r.summary);
console.log(
  `\nboot storm, ${NODES} nodes, ${LINK}, kernel ${KERNEL_MIB} MiB, initrd ${INITRD_MIB} MiB` +
    ` (times in s, p50/p99/max; lower is better)`,
);
if (results.length > 0) console.log(table(results));
if (JSON_OUT !== "") {
  const args = { nodes: NODES, link: LINK, kernelMiB: KERNEL_MIB, initrdMiB: INITRD_MIB, boundMs };
  await Deno.writeTextFile(JSON_OUT, JSON.stringify({ args, runs, broken }));
  console.log(`written: ${JSON_OUT}`);
}
if (broken.length > 0) console.log(`servers that could not be measured: ${broken.join(", ")}`);
// Nodes that dnsmasq with its defaults leaves behind are a result; mesh losing one is a failure.
const meshFailed = results.some((r) => r.server === "mesh" && r.failed > 0);
Deno.exit(broken.length === 0 && !meshFailed ? 0 : 1);
