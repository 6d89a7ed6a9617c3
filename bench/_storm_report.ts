/**
 * @module
 * bench/storm.ts's numbers: one summary per server from the generator's
 * timelines, the probe's samples, the process sampler and the counters, and
 * the table that puts the servers side by side.
 */
import { percentile } from "./_mixed_lib.ts";
import type { Counters, ProcStats } from "./_storm_lab.ts";
import { type GenResult, type ProbeResult, STAGES } from "./_storm_types.ts";

export interface Dist {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export function dist(xs: readonly number[]): Dist {
  return {
    n: xs.length,
    p50: percentile(xs, 50),
    p99: percentile(xs, 99),
    max: xs.length ? Math.max(...xs) : NaN,
  };
}

export interface Summary {
  readonly server: string;
  readonly nodes: number;
  readonly online: number;
  readonly failed: number;
  /** First node start to last node online, s (NaN unless every node came online). */
  readonly stormS: number;
  /** First node start to the last node that came online, s. */
  readonly lastOnlineS: number;
  /** Bytes all nodes downloaded; what all N must download (at least) over the link rate, s. */
  readonly bytes: number;
  readonly floorS: number;
  /** The floor with the frames' headers (what tbf counts). */
  readonly wireFloorS: number;
  readonly stages: Record<string, Dist>;
  readonly dhcpRetransmits: number;
  readonly tftpRetransmits: number;
  readonly httpErrors: number;
  /** The generator's own DHCP: DISCOVER→OFFER and REQUEST→ACK, ms, all three clients. */
  readonly genOfferMs: Dist;
  readonly genAckMs: Dist;
  /** TFTP: RRQ to the server's first answer (OACK or DATA), ms. */
  readonly tftpFirstMs: Dist;
  /** The probe's OFFER latency while kernels and initrds download, and over the whole run. */
  readonly probeDuringHttp: Dist & { lost: number };
  readonly probeAll: Dist & { lost: number };
  readonly kernelP99OverP50: number;
  /** The server's processes, and the generator's (did it keep up?). */
  readonly proc: ProcStats;
  readonly genProc: ProcStats;
  /** The generator's event-loop lag, p99 and max, ms. */
  readonly genLagMs: readonly [number, number];
  readonly counters: { before: Counters; after: Counters };
  /** The generator's namespace: its UDP receive errors say whether it kept up. */
  readonly clientCounters: { before: Counters; after: Counters };
  readonly errors: string[];
}

function probeDist(p: ProbeResult, from: number, to: number): Dist & { lost: number } {
  const inside = p.samples.filter((s) => s.at >= from && s.at <= to);
  const ms = inside.flatMap((s) => (s.ms === null ? [] : [s.ms]));
  return { ...dist(ms), lost: inside.length - ms.length };
}

export function summarize(o: {
  server: string;
  gen: GenResult;
  probe: ProbeResult;
  rateBits: number;
  /** Bytes the files of every node add up to (the floor when nodes failed). */
  plannedBytes: number;
  /** The same bytes with their frames' headers, over the link rate, s. */
  wireFloorS: number;
  proc: ProcStats;
  genProc: ProcStats;
  counters: { before: Counters; after: Counters };
  clientCounters: { before: Counters; after: Counters };
}): Summary {
  const nodes = o.gen.nodes;
  const online = nodes.filter((n) => n.online);
  const stages: Record<string, Dist> = {};
  for (const st of STAGES) {
    stages[st] = dist(
      nodes.flatMap((n) =>
        n.stages.filter((s) => s.stage === st && s.ok).map((s) => s.end - s.start)
      ),
    );
  }
  const all = nodes.flatMap((n) => n.stages);
  const sum = (f: (s: typeof all[number]) => number) => all.reduce((a, s) => a + f(s), 0);
  const bytes = sum((s) => s.bytes);
  const dhcp = all.filter((s) => s.stage.startsWith("dhcp-") && s.ok);
  const http = all.filter((s) => ["kernel", "initrd"].includes(s.stage));
  const first = Math.min(...nodes.map((n) => n.start || Infinity));
  const httpFrom = Math.min(...http.map((s) => s.start));
  const httpTo = Math.max(...http.map((s) => s.end));
  const k = stages.kernel!;
  const errors = [...new Set(nodes.flatMap((n) => (n.error ? [n.error.slice(0, 160)] : [])))];
  return {
    server: o.server,
    nodes: nodes.length,
    online: online.length,
    failed: nodes.length - online.length,
    stormS: online.length === nodes.length
      ? (Math.max(...online.map((n) => n.onlineAt!)) - first) / 1000
      : NaN,
    lastOnlineS: (Math.max(...online.map((n) => n.onlineAt!)) - first) / 1000,
    bytes,
    floorS: (Math.max(bytes, o.plannedBytes) * 8) / o.rateBits,
    wireFloorS: o.wireFloorS,
    stages,
    dhcpRetransmits: sum((s) => (s.stage.startsWith("dhcp-") ? s.retries : 0)),
    tftpRetransmits: sum((s) => (s.stage === "tftp" ? s.retries : 0)),
    httpErrors: nodes.reduce((a, n) => a + n.httpErrors, 0),
    genOfferMs: dist(dhcp.map((s) => s.offerMs ?? NaN)),
    genAckMs: dist(dhcp.map((s) => s.ackMs ?? NaN)),
    tftpFirstMs: dist(all.filter((s) => s.stage === "tftp" && s.ok).map((s) => s.firstMs ?? NaN)),
    probeDuringHttp: probeDist(o.probe, httpFrom, httpTo),
    probeAll: probeDist(o.probe, -Infinity, Infinity),
    kernelP99OverP50: k.p99 / k.p50,
    proc: o.proc,
    genProc: o.genProc,
    genLagMs: [o.gen.lagP99Ms, o.gen.lagMaxMs],
    counters: o.counters,
    clientCounters: o.clientCounters,
    errors: errors.slice(0, 10),
  };
}

const helpers = (h: Record<string, number>) =>
  Object.entries(h).map(([k, v]) => `${v} ${k}`).join(", ") || "0";
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "-");
const sec = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "-");
const d3 = (d: Dist, fmt: (x: number) => string) => `${fmt(d.p50)}/${fmt(d.p99)}/${fmt(d.max)}`;

/** The side-by-side table (one column per server). */
export function table(rows: readonly Summary[]): string {
  const lines: [string, ...string[]][] = [
    ["nodes online / failed", ...rows.map((r) => `${r.online}/${r.failed}`)],
    ["all online (s)", ...rows.map((r) => f1(r.stormS))],
    ["last online (s)", ...rows.map((r) => f1(r.lastOnlineS))],
    ["physical floor (s)", ...rows.map((r) => f1(r.floorS))],
    ["storm / floor", ...rows.map((r) => f2(r.stormS / r.floorS))],
    ["floor with frame headers (s)", ...rows.map((r) => f1(r.wireFloorS))],
    ["storm / that floor", ...rows.map((r) => f2(r.stormS / r.wireFloorS))],
    ...STAGES.map((st): [string, ...string[]] => [
      `${st} p50/p99/max (s)`,
      ...rows.map((r) => d3(r.stages[st]!, sec)),
    ]),
    ["TFTP RRQ→first answer (ms)", ...rows.map((r) => d3(r.tftpFirstMs, f1))],
    ["kernel p99/p50", ...rows.map((r) => f2(r.kernelP99OverP50))],
    ["retransmits DHCP/TFTP", ...rows.map((r) => `${r.dhcpRetransmits}/${r.tftpRetransmits}`)],
    ["HTTP errors", ...rows.map((r) => `${r.httpErrors}`)],
    ["node OFFER p50/p99/max (ms)", ...rows.map((r) => d3(r.genOfferMs, f1))],
    ["node ACK p50/p99/max (ms)", ...rows.map((r) => d3(r.genAckMs, f1))],
    ["probe OFFER in HTTP (ms)", ...rows.map((r) => d3(r.probeDuringHttp, f1))],
    [
      "probe lost in HTTP / all",
      ...rows.map((r) => `${r.probeDuringHttp.lost}/${r.probeAll.lost}`),
    ],
    ["probe OFFER all (ms)", ...rows.map((r) => d3(r.probeAll, f1))],
    ["server peak RSS (MiB)", ...rows.map((r) => f1(r.proc.peakRssMiB))],
    ["server sum VmHWM (MiB)", ...rows.map((r) => f1(r.proc.hwmSumMiB))],
    ["server CPU (s)", ...rows.map((r) => f1(r.proc.cpuSeconds))],
    ["server helper processes", ...rows.map((r) => helpers(r.proc.helpers))],
    [
      "generator loop lag p99/max (ms)",
      ...rows.map((r) => `${f1(r.genLagMs[0])}/${f1(r.genLagMs[1])}`),
    ],
    [
      "generator CPU (s) / RSS (MiB)",
      ...rows.map((r) => `${f1(r.genProc.cpuSeconds)}/${f1(r.genProc.peakRssMiB)}`),
    ],
    ...([
      "udpInErrors",
      "udpRcvbufErrors",
      "qdiscDropped",
      "arpTableFulls",
      "backlogDrops",
    ] as const).map(
      (k): [string, ...string[]] => [
        `${k} (delta)`,
        ...rows.map((r) => `${r.counters.after[k] - r.counters.before[k]}`),
      ],
    ),
  ];
  lines.push([
    "generator udpRcvbufErrors",
    ...rows.map((r) =>
      `${r.clientCounters.after.udpRcvbufErrors - r.clientCounters.before.udpRcvbufErrors}`
    ),
  ]);
  const mesh = rows.find((r) => r.server === "mesh");
  if (mesh) {
    lines.push(["mesh / this (all online)", ...rows.map((r) => f2(mesh.stormS / r.stormS))]);
  }
  const w0 = Math.max(...lines.map((l) => l[0].length));
  const widths = rows.map((r, i) =>
    Math.max(r.server.length, ...lines.map((l) => l[i + 1]!.length))
  );
  const pad = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(w0) : c.padStart(widths[i - 1]!))).join("  ");
  return [pad(["", ...rows.map((r) => r.server)]), ...lines.map((l) => pad(l))].join("\n");
}
