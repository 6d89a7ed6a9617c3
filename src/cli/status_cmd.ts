/**
 * @module
 * `mesh system status`: what the central node serves, segment by segment
 * (mode and why, subnet, our address, the DHCP servers seen there) and its
 * services, from the state database and the lock, so it works whether the
 * daemon runs or not.
 */
import { existsSync } from "node:fs";
import { lockHolder, NetStore, openStore } from "../store/mod.ts";
import type { SegmentReport } from "../topology/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { loadSettings } from "../config/mod.ts";
import { emit, type GlobalOptions, host0Dir, stateDir } from "./context.ts";
import { formatTime, renderTable } from "./format.ts";

interface StatusSegment {
  readonly id: string;
  readonly interfaces: readonly string[];
  readonly link: string;
  readonly mode: string;
  readonly served: boolean;
  readonly reason: string;
  readonly subnet: string | null;
  readonly address: string | null;
  /** DHCP servers seen there: by the probe, and by the rogue guard. */
  readonly dhcpServers: readonly {
    serverId: string;
    serverMac: string;
    proxy: boolean;
    by: string;
  }[];
}

/** `mesh system status`. */
export async function systemStatus(opts: GlobalOptions): Promise<number> {
  const dir = stateDir(opts);
  const pid = lockHolder(`${dir}/mesh.lock`);
  const settings = await loadSettings(host0Dir(opts)).catch(() => null);
  const path = `${dir}/mesh.db`;
  const store = existsSync(path) ? openStore(path) : null;
  try {
    const net = store ? new NetStore(store.db) : null;
    const rows = net?.segments() ?? [];
    const rogues = (net?.events(1000) ?? []).filter((e) => e.kind === "rogue-server");
    const segments: StatusSegment[] = rows.map((r) => {
      const s = r.report as SegmentReport;
      const probed = (s.dhcp?.servers ?? []).map((x) => ({
        serverId: x.serverId,
        serverMac: x.serverMac,
        proxy: x.proxy,
        by: "probe",
      }));
      const guarded = rogues.filter((e) => e.segment === s.id).map((e) => {
        const d = e.detail as { serverId: string; serverMac: string };
        return { serverId: d.serverId, serverMac: d.serverMac, proxy: false, by: "guard" };
      });
      const seen = new Map([...probed, ...guarded].map((x) => [`${x.serverId} ${x.serverMac}`, x]));
      return {
        id: s.id,
        interfaces: s.interfaces,
        link: s.link,
        mode: s.mode,
        served: s.served,
        reason: s.reason,
        subnet: s.subnet,
        address: s.address,
        dhcpServers: [...seen.values()],
      };
    });
    const scannedAt = rows.length > 0 ? Math.max(...rows.map((r) => r.updatedAt)) : null;
    const services = {
      daemon: { running: pid !== null, pid },
      http: settings
        ? { address: formatIpv4(settings.http.address), port: settings.http.port }
        : null,
      tftp: settings
        ? { address: formatIpv4(settings.tftp.address), port: settings.tftp.port }
        : null,
      dhcp: segments.filter((s) => s.served && s.mode === "server").flatMap((s) => s.interfaces),
      proxy: segments.filter((s) => s.served && s.mode === "proxy").flatMap((s) => s.interfaces),
      scannedAt,
    };
    emit(opts, { segments, services }, () => {
      const head = pid !== null
        ? `mesh serve runs (pid ${pid}); network scanned ${formatTime(scannedAt)}\n`
        : "mesh serve is not running; the last map it stored:\n";
      if (segments.length === 0) return head + "no network scan yet\n";
      return head + renderTable(segments, [
        { header: "SEGMENT", cell: (s: StatusSegment) => s.id },
        { header: "INTERFACES", cell: (s) => s.interfaces.join(",") },
        { header: "MODE", cell: (s) => s.served ? s.mode : `${s.mode} (not served)` },
        { header: "SUBNET", cell: (s) => s.subnet ?? "-" },
        { header: "ADDRESS", cell: (s) => s.address ?? "-" },
        {
          header: "DHCP SERVERS SEEN",
          cell: (s) =>
            s.dhcpServers.map((x) => `${x.serverId}${x.proxy ? " (proxy)" : ""}`).join(", ") ||
            "-",
        },
        { header: "WHY", cell: (s) => s.reason },
      ]);
    });
    return 0;
  } finally {
    store?.close();
  }
}
