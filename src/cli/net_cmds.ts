/**
 * @module
 * `mesh net scan` (scan the ports now and print the map) and `mesh net show`
 * (the map the daemon works from, from the store). A scan commits its map
 * only when no daemon runs: a running daemon owns the map and rescans on
 * link changes and SIGHUP, so a scan beside it only looks.
 */
import { existsSync } from "node:fs";
import { loadSettings } from "../config/mod.ts";
import { scanNetwork } from "../daemon/mod.ts";
import { acquireStateLock, lockHolder, NetStore, openStore } from "../store/mod.ts";
import type { SegmentReport } from "../topology/mod.ts";
import { emit, type GlobalOptions, host0Dir, stateDir } from "./context.ts";
import { formatTime, renderTable } from "./format.ts";

/** `mesh net scan`. */
export async function netScan(opts: GlobalOptions): Promise<number> {
  const settings = await loadSettings(host0Dir(opts));
  const dir = stateDir(opts);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const daemon = lockHolder(`${dir}/mesh.lock`);
  const lock = daemon === null ? acquireStateLock(`${dir}/mesh.lock`) : null;
  const store = openStore(`${dir}/mesh.db`);
  try {
    const tty = !opts.json && Deno.stderr.isTerminal();
    const r = await scanNetwork({
      settings,
      store: new NetStore(store.db),
      ...(tty
        ? {
          onPort: (port: string, i: number, n: number) =>
            Deno.stderr.writeSync(new TextEncoder().encode(`\rscanning ${port} (${i + 1}/${n})  `)),
        }
        : {}),
    }, lock !== null);
    if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    const data = {
      segments: r.map.segments,
      ports: r.ports.map((p) => ({
        name: p.name,
        mac: p.mac,
        link: p.carrier ? "up" : "down",
        mode: p.mode,
      })),
      scan: {
        ms: Math.round(r.scan.durationMs),
        probesSent: r.scan.probesSent,
        frames: r.scan.frames,
        ignored: r.scan.ignored,
        sendFailures: r.scan.sendFailures,
        unopened: r.scan.unopened,
      },
      dhcpProbe: { segments: r.probe.segments, ms: Math.round(r.probe.ms) },
      missing: r.missing,
      committed: lock !== null,
      daemon,
    };
    emit(opts, data, () => {
      const note = lock !== null
        ? ""
        : `the daemon (pid ${daemon}) keeps its own map: this scan was not stored (kill -HUP ${daemon} rescans)\n`;
      const missing = r.missing.length > 0
        ? `mesh.yaml names interfaces this machine does not have: ${r.missing.join(", ")}\n`
        : "";
      return segmentTables(r.map.segments) + missing +
        `scanned ${r.ports.filter((p) => p.carrier && p.mode !== "off").length} ports in ${
          Math.round(r.scan.durationMs)
        } ms` +
        (r.probe.segments > 0
          ? `, probed ${r.probe.segments} segments for DHCP servers in ${Math.round(r.probe.ms)} ms`
          : "") +
        `\n` + note;
    });
    return 0;
  } finally {
    store.close();
    lock?.release();
  }
}

/** `mesh net show`. */
export function netShow(opts: GlobalOptions): number {
  const path = `${stateDir(opts)}/mesh.db`;
  if (!existsSync(path)) {
    emit(
      opts,
      { segments: [], scannedAt: null },
      () => "no scan yet: run mesh serve or mesh net scan\n",
    );
    return 0;
  }
  const store = openStore(path);
  try {
    const net = new NetStore(store.db);
    const rows = net.segments();
    const segments = rows.map((r) => r.report as SegmentReport);
    const scannedAt = rows.length > 0 ? Math.max(...rows.map((r) => r.updatedAt)) : null;
    const events = net.events(20);
    emit(
      opts,
      { segments, scannedAt, events },
      () =>
        rows.length === 0
          ? "no scan yet: run mesh serve or mesh net scan\n"
          : segmentTables(segments) + `scanned ${formatTime(scannedAt)}\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}

function segmentTables(segments: readonly SegmentReport[]): string {
  const main = renderTable(segments, [
    { header: "SEGMENT", cell: (s: SegmentReport) => s.id },
    { header: "INTERFACES", cell: (s) => s.interfaces.join(",") },
    { header: "LINK", cell: (s) => s.link },
    { header: "SUBNET", cell: (s) => s.subnet ?? "-" },
    { header: "ADDRESS", cell: (s) => s.address ?? "-" },
    { header: "MODE", cell: (s) => s.mode + (s.served ? "" : " (not served)") },
    { header: "NEIGHBOURS", cell: (s) => String(s.neighbours.length) },
    { header: "WHY", cell: (s) => s.reason },
  ]);
  const neighbours = segments.flatMap((s) => s.neighbours.map((n) => ({ ...n, segment: s.id })));
  if (neighbours.length === 0) return main;
  return main + "\n" + renderTable(neighbours, [
    { header: "NEIGHBOUR", cell: (n: (typeof neighbours)[number]) => n.mac },
    { header: "IP", cell: (n) => n.ip },
    { header: "INTERFACE", cell: (n) => n.interface },
    { header: "SEGMENT", cell: (n) => n.segment },
  ]);
}
