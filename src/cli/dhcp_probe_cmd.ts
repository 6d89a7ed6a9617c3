/**
 * @module
 * `mesh net dhcp-probe IFACE`: broadcast a few DHCPDISCOVERs from a probe
 * MAC and report every DHCP server that offers (never REQUESTs, so no lease
 * is taken). Needs no /host0: it asks the network, not the configuration.
 * Offers from this machine's own interfaces are mesh's own server (a daemon
 * serving the same switch from another port): counted, not listed.
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import {
  probeDhcpServers,
  type ProbeOffer,
  type ProbeResult,
  type ProbeServer,
} from "../dhcp/mod.ts";
import { listInterfaces } from "../net/mod.ts";
import { type Cidr, formatCidr, formatIpv4 } from "../wire/mod.ts";
import { emit, type GlobalOptions } from "./context.ts";
import { renderTable } from "./format.ts";

export interface DhcpProbeCmdOptions {
  readonly spanMs?: number;
  readonly attempts?: number;
}

/** Commander parser for a whole number ≥ `min` (a usage error otherwise). */
export function wholeNumber(min: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}`);
    }
    return n;
  };
}

/** `mesh net dhcp-probe IFACE`. */
export async function netDhcpProbe(
  opts: GlobalOptions,
  ifname: string,
  o: DhcpProbeCmdOptions,
): Promise<number> {
  const ownMacs = (await listInterfaces())
    .filter((i) => i.ethernet && i.mac !== "00:00:00:00:00:00")
    .map((i) => i.mac);
  const r = await probeDhcpServers({
    ifname,
    ownMacs,
    ...(o.spanMs !== undefined ? { spanMs: o.spanMs } : {}),
    ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
  });
  emit(opts, probeJson(r), () => probeTable(r));
  return 0;
}

const ip = formatIpv4;
const ips = (list: readonly number[]) => list.map(ip);

/** The result with dotted addresses and CIDR strings (what `--json` prints). */
export function probeJson(r: ProbeResult): unknown {
  const offer = (o: ProbeOffer) => ({
    serverId: ip(o.serverId),
    serverMac: o.serverMac,
    yiaddr: ip(o.yiaddr),
    subnet: o.subnet === null ? null : formatCidr(o.subnet),
    maskAssumed: o.maskAssumed,
    routers: ips(o.routers),
    dns: ips(o.dns),
    leaseTime: o.leaseTime,
    proxy: o.proxy,
  });
  const server = (s: ProbeServer) => ({
    ...s,
    serverId: ip(s.serverId),
    offered: ips(s.offered),
    subnets: s.subnets.map(formatCidr),
    routers: ips(s.routers),
    dns: ips(s.dns),
  });
  return {
    interface: r.interface,
    probeMac: r.probeMac,
    xid: `0x${r.xid.toString(16).padStart(8, "0")}`,
    discoversSent: r.discoversSent,
    offers: r.offers.map(offer),
    ignored: r.ignored,
    servers: {
      found: r.servers.found,
      servers: r.servers.servers.map(server),
      subnets: r.servers.subnets.map(formatCidr),
    },
    durationMs: Math.round(r.durationMs),
  };
}

function probeTable(r: ProbeResult): string {
  const ms = Math.round(r.durationMs);
  const own = r.ignored["own-server"]
    ? `(${r.ignored["own-server"]} offers from this machine's own interfaces not shown)\n`
    : "";
  const servers = r.servers.servers;
  if (servers.length === 0) {
    return `no DHCP server answered on ${r.interface} in ${ms} ms (probe MAC ${r.probeMac})\n` +
      own;
  }
  const list = (xs: readonly number[]) => xs.length === 0 ? "-" : ips(xs).join(",");
  const subnets = (s: ProbeServer) =>
    s.subnets.length === 0
      ? "-"
      : s.subnets.map((c: Cidr) => formatCidr(c)).join(",") + (s.maskAssumed ? " (no mask)" : "");
  const table = renderTable(servers, [
    { header: "SERVER", cell: (s: ProbeServer) => ip(s.serverId) },
    { header: "MAC", cell: (s) => s.serverMac },
    { header: "OFFERED", cell: (s) => list(s.offered) },
    { header: "SUBNET", cell: subnets },
    { header: "ROUTER", cell: (s) => list(s.routers) },
    { header: "DNS", cell: (s) => list(s.dns) },
    { header: "LEASE", cell: (s) => formatLease(s.leaseTime) },
    { header: "PROXY", cell: (s) => (s.proxy ? "yes" : "no") },
  ]);
  const what = r.servers.found
    ? `${servers.length} DHCP server${servers.length === 1 ? "" : "s"} answered`
    : "only proxyDHCP servers answered (no address server)";
  return table + `${what} on ${r.interface} in ${ms} ms (probe MAC ${r.probeMac})\n` + own;
}

/** 3600 → "1h", 90 → "90s", 0xffffffff → "infinite" (RFC 2132 §9.2). */
export function formatLease(s: number | null): string {
  if (s === null) return "-";
  if (s === 0xffffffff) return "infinite";
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}
