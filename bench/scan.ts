/**
 * Scan time of `mesh net scan` for 2, 5 and 8 ports. For each port count a
 * lab is built: a central namespace whose ports go in pairs into one switch
 * each (eth0+eth1 on sw0, eth2+eth3 on sw1, ...; an odd last port alone),
 * nothing else on the switches. `mesh net scan --json` runs --runs times in
 * the central namespace with a /host0 holding only `mesh.yaml` with
 * `subnet_pool` and one state directory per lab (so every run after the
 * first is a rescan, as after a restart). One untimed scan first warms
 * Deno's code cache.
 *
 * Per port count: segments found (and whether that is the switch count),
 * the scan's own time (`scan.ms` of the JSON: socket open to settle end)
 * min/median/max, the schedule it cannot beat (ports × probes × interval +
 * settle, from SCAN_DEFAULTS), and the whole command's wall time
 * (`ip netns exec` + Deno start + config + netlink + scan + plan + SQLite
 * commit + JSON) min/median/max. Deno runs directly (Deno.execPath()), not
 * through tools/deno's npx, whose start-up would swamp the figure.
 *
 * There is no established competitor: no maintained PXE/DHCP server
 * (dnsmasq, Kea, Pixiecore, smee, Warewulf) discovers which of its ports
 * share a switch, so the table stands alone.
 *
 *   deno run -A bench/scan.ts [--runs 5] [--ports 2,5,8]     (root; ~1 minute)
 *   deno task bench scan
 */
import { meshIn } from "../tests/lib/mesh_daemon.ts";
import { SCAN_DEFAULTS } from "../src/topology/mod.ts";
import { createNetLab, labSkipReason, type NetLab, type PortSpec } from "../tests/lib/netns.ts";

const USAGE = "usage: deno run -A bench/scan.ts [--runs 5] [--ports 2,5,8]";

function flag(name: string, dflt: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] ?? dflt : dflt;
}
const RUNS = Number(flag("runs", "5"));
const COUNTS = flag("ports", "2,5,8").split(",").map(Number);
if (
  !Number.isInteger(RUNS) || RUNS < 1 || RUNS > 100 ||
  COUNTS.some((n) => !Number.isInteger(n) || n < 1 || n > 64)
) {
  console.error(`bench/scan: --runs in 1..100, --ports a list of 1..64\n${USAGE}`);
  Deno.exit(2);
}

interface ScanJson {
  segments: { interfaces: string[] }[];
  scan: { ms: number; probesSent: number; sendFailures: Record<string, number> };
}

interface Row {
  readonly ports: number;
  readonly switches: number;
  readonly segments: number[];
  readonly scanMs: number[];
  readonly wallMs: number[];
  probesShort: number;
}

const switchOf = (i: number) => `sw${Math.floor(i / 2)}`;

async function scanOnce(lab: NetLab, dir: string): Promise<{ json: ScanJson; wallMs: number }> {
  const t0 = performance.now();
  const r = await meshIn(lab, "c", [
    "--host0",
    dir,
    "--state",
    `${dir}/state`,
    "--json",
    "net",
    "scan",
  ]);
  const wallMs = performance.now() - t0;
  if (r.code !== 0) throw new Error(`mesh net scan exited ${r.code}: ${r.stderr.trim()}`);
  return { json: JSON.parse(r.stdout) as ScanJson, wallMs };
}

async function measure(n: number, warm: boolean): Promise<Row> {
  const ports: PortSpec[] = Array.from({ length: n }, (_, i) => ({
    name: `eth${i}`,
    switch: switchOf(i),
  }));
  const switches = [...new Set(ports.map((p) => p.switch))];
  const dir = await Deno.makeTempDir({ prefix: "mesh-bench-scan-" });
  const lab = await createNetLab("bscan", { switches, hosts: [{ name: "c", ports }] });
  try {
    // The ARP scan alone: no DHCP probe in the wall time.
    await Deno.writeTextFile(
      `${dir}/mesh.yaml`,
      "subnet_pool:\n  - 10.77.0.0/16\nscan:\n  dhcp_probe_ms: 0\n",
    );
    if (warm) await scanOnce(lab, dir);
    const row: Row = {
      ports: n,
      switches: switches.length,
      segments: [],
      scanMs: [],
      wallMs: [],
      probesShort: 0,
    };
    for (let k = 0; k < RUNS; k++) {
      const { json, wallMs } = await scanOnce(lab, dir);
      row.segments.push(json.segments.length);
      row.scanMs.push(json.scan.ms);
      row.wallMs.push(wallMs);
      row.probesShort += n * SCAN_DEFAULTS.probes - json.scan.probesSent;
    }
    return row;
  } finally {
    await lab.cleanup();
    await Deno.remove(dir, { recursive: true });
  }
}

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: readonly number[]) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mmm = (xs: readonly number[]) =>
  `${Math.min(...xs).toFixed(0)} / ${median(xs).toFixed(0)} / ${Math.max(...xs).toFixed(0)}`;

function printTable(rows: readonly Row[], loadBefore: readonly number[]): void {
  const { probes, intervalMs, settleMs } = SCAN_DEFAULTS;
  console.log(
    `\nmesh net scan --json, ${RUNS} runs per port count (after one untimed warm-up scan); ` +
      `ports in pairs per switch; probes ${probes}, interval ${intervalMs} ms, settle ${settleMs} ms; ` +
      `${navigator.hardwareConcurrency} cores, load average before: ${
        loadBefore.map((x) => x.toFixed(2)).join(" ")
      }`,
  );
  const header = [
    "ports",
    "switches",
    "segments found",
    "schedule ms",
    "scan ms min/med/max",
    "wall ms min/med/max",
  ];
  const lines = rows.map((r) => {
    const found = [...new Set(r.segments)];
    return [
      String(r.ports),
      String(r.switches),
      found.join(",") + (found.length === 1 && found[0] === r.switches ? "" : " (WRONG)") +
      (r.probesShort > 0 ? ` (${r.probesShort} probes not sent)` : ""),
      String(r.ports * probes * intervalMs + settleMs),
      mmm(r.scanMs),
      mmm(r.wallMs),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const show = (cols: string[]) => cols.map((c, i) => c.padStart(widths[i]!)).join("  ");
  console.log(show(header));
  for (const l of lines) console.log(show(l));
  console.log(
    "schedule: ports × probes × interval + settle, the least a scan takes by construction. " +
      "scan ms: the JSON's scan.ms (sockets opened to settle end). wall: the whole " +
      "`ip netns exec deno run main.ts net scan --json` (Deno start, config, netlink, scan, plan, " +
      "SQLite commit). No established competitor: no maintained PXE/DHCP server (dnsmasq, Kea, " +
      "Pixiecore, smee, Warewulf) finds which of its ports share a switch, so nothing is compared.",
  );
}

async function main(): Promise<number> {
  const skip = labSkipReason();
  if (skip) {
    console.log(`bench/scan: skipped (${skip})`);
    return 0;
  }
  const loadBefore = Deno.loadavg();
  const rows: Row[] = [];
  for (const [i, n] of COUNTS.entries()) {
    const row = await measure(n, i === 0);
    console.log(`  ${n} ports: scan ${mmm(row.scanMs)} ms, wall ${mmm(row.wallMs)} ms`);
    rows.push(row);
  }
  printTable(rows, loadBefore);
  return rows.every((r) => r.segments.every((s) => s === r.switches)) ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
