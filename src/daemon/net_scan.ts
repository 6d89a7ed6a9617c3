/**
 * @module
 * One network scan as the daemon and `mesh net scan` run it: the machine's
 * interfaces (netlink), the ports to scan (Ethernet and veth; what mesh.yaml
 * names; never a port in `mode: off`), the ARP scan, and the map built from
 * it with the store's last map and allocations. Committing the outcome is
 * the caller's choice: the daemon commits, a CLI scan beside a running
 * daemon only looks.
 */
import { type InterfaceSettings, pinnedSubnet, type Settings } from "../config/mod.ts";
import { probeDhcpServers } from "../dhcp/mod.ts";
import { listInterfaces, type NetInterface } from "../net/mod.ts";
import type { NetStore } from "../store/mod.ts";
import {
  arpScan,
  type ArpScanResult,
  type ArpScanTimings,
  buildNetMap,
  type ExistingDhcp,
  type NetMap,
  type NetMapInput,
  type PortState,
} from "../topology/mod.ts";
import { cidrContains, formatCidr, formatIpv4 } from "../wire/mod.ts";

/** How long an allocation stays reserved for a segment that is away (default). */
export const DEFAULT_SUBNET_HOLD_MS = 7 * 24 * 3600 * 1000;

/** Interface kinds mesh itself creates (bridges, tunnels, VXLAN): not scanned unless named. */
const OWN_KINDS: ReadonlySet<string> = new Set([
  "bridge",
  "vxlan",
  "tun",
  "tap",
  "dummy",
  "gre",
  "gretap",
  "ipip",
  "sit",
  "wireguard",
  "macvlan",
  "macvtap",
  "vlan",
  "bond",
]);

export interface NetScanOptions {
  readonly settings: Settings;
  readonly store: NetStore;
  readonly timings?: ArpScanTimings;
  readonly holdMs?: number;
  /** How long the existing-DHCP probe listens per segment (0: no probe). */
  readonly dhcpProbeMs?: number;
  /** Segments the rogue guard took over, by id. */
  readonly guard?: NetMapInput["guard"];
  readonly signal?: AbortSignal;
  readonly onPort?: (port: string, index: number, total: number) => void;
  /** Unix ms (injected for tests). */
  readonly now?: () => number;
}

export interface NetScan {
  readonly at: number;
  readonly ports: readonly PortState[];
  /** ifindex by port name, for adding addresses. */
  readonly ifindex: ReadonlyMap<string, number>;
  readonly scan: ArpScanResult;
  /** The existing-DHCP probe: segments probed, and how long it took. */
  readonly probe: { readonly segments: number; readonly ms: number };
  readonly map: NetMap;
  /** Interfaces mesh.yaml names that this machine does not have. */
  readonly missing: readonly string[];
}

/** Which interfaces take part: Ethernet (veth included) and whatever mesh.yaml names. */
export function scanCandidates(
  links: readonly NetInterface[],
  named: Readonly<Record<string, InterfaceSettings>>,
): NetInterface[] {
  return links.filter((l) => {
    if (named[l.name] !== undefined) return true;
    if (l.loopback || !l.ethernet) return false;
    return l.kind === null || !OWN_KINDS.has(l.kind);
  });
}

/**
 * The port as the map sees it, with mesh.yaml's settings for it. An address
 * the operator put on a port that mesh.yaml does not pin counts as pinned:
 * it says which subnet the port is on (and mesh keeps it).
 */
export function portState(l: NetInterface, cfg: InterfaceSettings | undefined): PortState {
  const mode = cfg?.mode ?? "auto";
  const present = mode === "off" ? undefined : l.ipv4[0];
  const pinned = (cfg ? pinnedSubnet(cfg) : undefined) ?? present?.subnet;
  const address = cfg?.address?.ip ??
    (cfg?.subnet === undefined || (present && cidrContains(cfg.subnet, present.ip))
      ? present?.ip
      : undefined);
  return {
    name: l.name,
    mac: l.mac,
    carrier: l.up && l.carrier,
    addresses: l.ipv4.map((a) => ({ ip: a.ip, prefix: a.prefix })),
    mode,
    ...(pinned ? { pinnedSubnet: pinned } : {}),
    ...(address !== undefined ? { pinnedAddress: address } : {}),
  };
}

/**
 * The existing-DHCP probe on every `auto` segment with carrier, from its
 * serving port; offers from our own ports' MACs are our own server.
 * Undefined when probing is off. A probe that fails (the port went away)
 * leaves its segment unprobed: `auto` stays undecided there.
 */
async function probeSegments(
  draft: NetMap,
  ports: readonly PortState[],
  opts: NetScanOptions,
): Promise<Map<string, ExistingDhcp> | undefined> {
  const spanMs = opts.dhcpProbeMs ?? opts.settings.scan.dhcpProbeMs;
  if (spanMs <= 0) return undefined;
  const ownMacs = ports.map((p) => p.mac);
  // Only `auto` decides by it: a forced mode stands whatever answers (the
  // rogue guard watches a forced server), and a probe costs seconds of start.
  const targets = draft.segments.filter((s) =>
    s.link === "up" && s.configured === "auto" && s.serving !== null
  );
  const found = await Promise.all(targets.map(async (s) => {
    try {
      const r = await probeDhcpServers({
        ifname: s.serving!,
        spanMs,
        ownMacs,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      const existing: ExistingDhcp = {
        servers: r.servers.servers.map((x) => ({
          serverId: formatIpv4(x.serverId),
          serverMac: x.serverMac,
          subnets: x.subnets.map(formatCidr),
          proxy: x.proxy,
          routers: x.routers.map(formatIpv4),
          dns: x.dns.map(formatIpv4),
          leaseTime: x.leaseTime,
        })),
      };
      return [[s.id, existing] as const];
    } catch {
      return [];
    }
  }));
  return new Map(found.flat());
}

/** Scans and builds the map; commits it to the store when `commit`. */
export async function scanNetwork(opts: NetScanOptions, commit: boolean): Promise<NetScan> {
  const now = opts.now ?? Date.now;
  const links = await listInterfaces();
  const named = opts.settings.interfaces;
  const candidates = scanCandidates(links, named);
  const ports = candidates.map((l) => portState(l, named[l.name]));
  const missing = Object.keys(named).filter((n) => !links.some((l) => l.name === n));
  const scanned = ports.filter((p) => p.carrier && p.mode !== "off");
  const scan = await arpScan({
    ...opts.timings,
    ports: scanned.map((p) => ({ name: p.name, mac: p.mac })),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onPort ? { onPort: opts.onPort } : {}),
  });
  const input: NetMapInput = {
    ports,
    groups: scan.groups,
    neighbours: scan.neighbours,
    previous: opts.store.segments(),
    allocations: opts.store.allocations(),
    pools: opts.settings.subnetPool,
    size: opts.settings.defaultSubnetSize,
    holdMs: opts.holdMs ?? DEFAULT_SUBNET_HOLD_MS,
    now: now(),
    ...(opts.guard ? { guard: opts.guard } : {}),
  };
  // The segments are known now: ask each whether a DHCP server is there,
  // all at once (each probe listens for the same few seconds).
  const probeStart = performance.now();
  const dhcp = await probeSegments(buildNetMap(input), ports, opts);
  const probe = { segments: dhcp?.size ?? 0, ms: performance.now() - probeStart };
  const at = now();
  const map = buildNetMap({ ...input, now: at, ...(dhcp ? { dhcp } : {}) });
  if (commit) {
    opts.store.commitScan(
      at,
      map.segments.map((s) => ({ id: s.id, macs: map.macs.get(s.id) ?? [], report: s })),
      map.allocations,
      [
        {
          kind: "scan",
          segment: null,
          detail: {
            ports: scanned.length,
            segments: map.segments.length,
            ms: Math.round(scan.durationMs),
            ignored: scan.ignored,
          },
        },
        ...map.events,
      ],
    );
  }
  return {
    at,
    ports,
    ifindex: new Map(candidates.map((l) => [l.name, l.ifindex])),
    scan,
    probe,
    map,
    missing,
  };
}
