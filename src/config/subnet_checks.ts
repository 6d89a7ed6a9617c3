/**
 * @module
 * Settings that cannot apply to the subnet they belong to: a router or DNS
 * server the clients cannot use, a reservation no served subnet holds, an
 * address that is a subnet's network or broadcast address. Checked twice:
 * when mesh.yaml is parsed, against the pinned subnets and subnet_pool; and
 * by the daemon, against the subnets it actually planned
 * (`checkServedSubnets`). Pure.
 */
import {
  type Cidr,
  cidrBroadcast,
  cidrContains,
  formatCidr,
  formatIpv4,
  prefixMask,
} from "../wire/mod.ts";
import { formatIssue } from "../errors.ts";
import {
  InterfaceMode,
  type InterfaceSettings,
  type Reservation,
  type Settings,
  type SourceAt,
} from "./types.ts";

/** One problem; `file`/`line` are set when the setting came from a file. */
export interface SettingsProblem {
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
}

/** A subnet the daemon serves; `name` is the interface (or segment) it is served on. */
export interface ServedSubnet {
  readonly name: string;
  readonly subnet: Cidr;
  /** The central node's own address there, when known. */
  readonly serverIp?: number;
}

/** What the checks read of the settings. */
export type SubnetSettings = Pick<Settings, "interfaces" | "dhcp" | "subnetPool">;

/** A subnet as the checks see it. */
interface Segment {
  /** Names it in messages: "interfaces.eth0", or the served name. */
  readonly label: string;
  readonly subnet: Cidr;
  /** The central node's own address there. */
  readonly serverIp?: number;
  /** Set when the segment is a configured interface. */
  readonly iface?: InterfaceSettings;
}

/** `file:line: message`, or the message alone when it has no location. */
export function formatProblem(p: SettingsProblem): string {
  if (p.file === undefined) return p.message;
  return formatIssue(
    p.line === undefined ? { file: p.file, message: p.message } : {
      file: p.file,
      line: p.line,
      message: p.message,
    },
  );
}

/** The subnet an interface is pinned to: `subnet`, else the network of `address`. */
export function pinnedSubnet(iface: InterfaceSettings): Cidr | undefined {
  if (iface.subnet) return iface.subnet;
  const a = iface.address;
  return a ? { network: (a.ip & prefixMask(a.prefix)) >>> 0, prefix: a.prefix } : undefined;
}

function problem(message: string, at: SourceAt | undefined): SettingsProblem {
  return at ? { message, file: at.file, line: at.line } : { message };
}

/** Proxy and off interfaces hand out no addresses, routers or DNS servers. */
function handsOutAddresses(iface: InterfaceSettings): boolean {
  return iface.mode === InterfaceMode.Auto || iface.mode === InterfaceMode.Server;
}

/**
 * "network" or "broadcast" when `ip` is that address of `subnet`. A /31 or
 * /32 has neither (RFC 3021: both addresses of a /31 are hosts).
 */
function edgeOf(subnet: Cidr, ip: number): "network" | "broadcast" | undefined {
  if (subnet.prefix >= 31) return undefined;
  if (ip === subnet.network) return "network";
  return ip === cidrBroadcast(subnet) ? "broadcast" : undefined;
}

/** "10.0.0.0/24", plus "of <label>" when `path` does not already name the segment. */
function subnetName(seg: Segment, path: string): string {
  const cidr = formatCidr(seg.subnet);
  return path.startsWith(`${seg.label}.`) ? cidr : `${cidr} of ${seg.label}`;
}

/** An address inside the segment that no host can have. */
function edgeProblem(seg: Segment, path: string, ip: number, at?: SourceAt) {
  const edge = edgeOf(seg.subnet, ip);
  return edge === undefined ? [] : [
    problem(
      `${path} ${formatIpv4(ip)} is the ${edge} address of ${subnetName(seg, path)}`,
      at,
    ),
  ];
}

/** The central node's own address must be a host of its subnet. */
function addressProblems(seg: Segment): SettingsProblem[] {
  const a = seg.iface?.address;
  // outside the subnet is reported by the parser, next to the value
  if (!a || !cidrContains(seg.subnet, a.ip)) return [];
  return edgeProblem(seg, `${seg.label}.address`, a.ip, seg.iface?.at?.address);
}

/** Clients reach their router directly, so it must be a host of the segment. */
function routerProblems(seg: Segment): SettingsProblem[] {
  const router = seg.iface?.router;
  if (router === undefined) return [];
  const path = `${seg.label}.router`;
  const at = seg.iface?.at?.router;
  if (!cidrContains(seg.subnet, router)) {
    return [problem(`${path} ${formatIpv4(router)} is outside ${formatCidr(seg.subnet)}`, at)];
  }
  return edgeProblem(seg, path, router, at);
}

/** The DNS servers handed out on a segment: its own list, else dhcp.dns (as the daemon does). */
function dnsServers(
  seg: Segment,
  settings: SubnetSettings,
): { path: string; ip: number; at: SourceAt | undefined }[] {
  const own = seg.iface?.dns;
  if (own) {
    return own.map((ip, i) => ({ path: `${seg.label}.dns`, ip, at: seg.iface?.at?.dns?.[i] }));
  }
  if (seg.iface && !handsOutAddresses(seg.iface)) return [];
  const d = settings.dhcp;
  return d.dns.map((ip, i) => ({ path: "dhcp.dns", ip, at: d.dnsAt?.[i] }));
}

/**
 * A DNS server outside the segment is normal when the clients have a router
 * to reach it; without one they cannot. Inside, it must be a host address.
 */
function dnsProblems(seg: Segment, settings: SubnetSettings): SettingsProblem[] {
  const hasRouter = seg.iface?.router !== undefined;
  return dnsServers(seg, settings).flatMap(({ path, ip, at }) => {
    if (cidrContains(seg.subnet, ip)) return edgeProblem(seg, path, ip, at);
    if (hasRouter) return [];
    return [
      problem(
        `${path} ${formatIpv4(ip)} is outside ${formatCidr(seg.subnet)} of ${seg.label}, ` +
          "which has no router: its clients have no route to it",
        at,
      ),
    ];
  });
}

/** "reservation 52:54:00:12:34:56 ip 10.0.0.5" or "reservation node 0a1b2c3d ip ...". */
function reservationName(r: Reservation): string {
  const who = r.mac ?? `node ${r.node ?? "?"}`;
  return `reservation ${who} ip ${formatIpv4(r.ip)}`;
}

/** A reservation inside a segment: a host address, and not the central node's own. */
function reservationInSegment(r: Reservation, seg: Segment): SettingsProblem[] {
  const name = reservationName(r);
  const edge = edgeOf(seg.subnet, r.ip);
  if (edge !== undefined) {
    return [problem(`${name} is the ${edge} address of ${formatCidr(seg.subnet)}`, r.at)];
  }
  if (r.ip === seg.serverIp) {
    return [problem(`${name} is the central node's own address on ${seg.label}`, r.at)];
  }
  return [];
}

/**
 * Each reservation must fall in a segment that hands out addresses, or (at
 * parse time) in `pool`, where a planned subnet will come from. `unserved`
 * are pinned segments of proxy/off interfaces, named when a reservation falls
 * there. `pool` null: the list of subnets is incomplete, do not call a
 * reservation stray.
 */
function reservationProblems(
  reservations: readonly Reservation[],
  served: readonly Segment[],
  unserved: readonly Segment[],
  pool: readonly Cidr[] | null,
): SettingsProblem[] {
  return reservations.flatMap((r) => {
    const seg = served.find((s) => cidrContains(s.subnet, r.ip));
    if (seg) return reservationInSegment(r, seg);
    const off = unserved.find((s) => cidrContains(s.subnet, r.ip));
    if (off) {
      const mode = off.iface?.mode ?? "?";
      return [
        problem(
          `${reservationName(r)} is in ${formatCidr(off.subnet)} of ${off.label}, ` +
            `where mode ${mode} hands out no addresses`,
          r.at,
        ),
      ];
    }
    if (pool === null || pool.some((c) => cidrContains(c, r.ip))) return [];
    const known = [
      ...served.map((s) => `${formatCidr(s.subnet)} of ${s.label}`),
      ...pool.map((c) => `subnet_pool ${formatCidr(c)}`),
    ];
    return [
      problem(
        `${reservationName(r)} is outside every subnet mesh serves (${known.join(", ") || "none"})`,
        r.at,
      ),
    ];
  });
}

/** Two reservations for one address, or two addresses for one client: one would lose. */
function duplicateReservations(reservations: readonly Reservation[]): SettingsProblem[] {
  const out: SettingsProblem[] = [];
  const seen = new Map<string, Reservation>();
  for (const r of reservations) {
    const keys = [`ip ${formatIpv4(r.ip)}`];
    if (r.mac !== undefined) keys.push(`mac ${r.mac}`);
    if (r.node !== undefined) keys.push(`node ${r.node}`);
    for (const key of keys) {
      const first = seen.get(key);
      if (!first) {
        seen.set(key, r);
        continue;
      }
      const other = first.at ? `the reservation at line ${first.at.line}` : "another reservation";
      out.push(problem(`${reservationName(r)}: ${key} is already in ${other}`, r.at));
    }
  }
  return out;
}

/** Router, DNS and (optionally) own-address problems of one segment. */
function segmentProblems(
  seg: Segment,
  settings: SubnetSettings,
  withAddress: boolean,
): SettingsProblem[] {
  return [
    ...(withAddress ? addressProblems(seg) : []),
    ...routerProblems(seg),
    ...dnsProblems(seg, settings),
  ];
}

/**
 * Parse-time checks against the pinned subnets and subnet_pool. Interfaces
 * without a pinned subnet are left to `checkServedSubnets`. `allSubnetsRead`
 * false (a subnet or pool failed to parse) keeps quiet about reservations
 * outside every subnet: the unreadable one may well hold them.
 */
export function checkPinnedSubnets(
  settings: SubnetSettings,
  allSubnetsRead = true,
): SettingsProblem[] {
  const pinned: Segment[] = [];
  for (const iface of Object.values(settings.interfaces)) {
    const subnet = pinnedSubnet(iface);
    if (!subnet) continue;
    pinned.push({
      label: `interfaces.${iface.name}`,
      subnet,
      ...(iface.address ? { serverIp: iface.address.ip } : {}),
      iface,
    });
  }
  const served = pinned.filter((s) => s.iface && handsOutAddresses(s.iface));
  const unserved = pinned.filter((s) => !served.includes(s));
  const reservations = settings.dhcp.reservations;
  return [
    ...pinned.flatMap((s) => segmentProblems(s, settings, true)),
    ...reservationProblems(
      reservations,
      served,
      unserved,
      allSubnetsRead ? settings.subnetPool : null,
    ),
    ...duplicateReservations(reservations),
  ];
}

/**
 * For the daemon once it has planned its subnets: reservations that fall in
 * no served subnet, or on a served subnet's network, broadcast or server
 * address; and, for each served interface, a router outside its subnet or a
 * DNS server its clients cannot reach. A served `name` that is not a
 * configured interface gets dhcp.dns and no router. Problems carry the
 * mesh.yaml `file:line` when the settings were parsed from it.
 */
export function checkServedSubnets(
  settings: SubnetSettings,
  served: readonly ServedSubnet[],
): SettingsProblem[] {
  const segments: Segment[] = served.map((s) => {
    const iface = settings.interfaces[s.name];
    return {
      label: iface ? `interfaces.${s.name}` : s.name,
      subnet: s.subnet,
      ...(s.serverIp !== undefined ? { serverIp: s.serverIp } : {}),
      ...(iface ? { iface } : {}),
    };
  });
  return [
    ...segments.flatMap((s) => segmentProblems(s, settings, false)),
    ...reservationProblems(settings.dhcp.reservations, segments, [], []),
  ];
}
