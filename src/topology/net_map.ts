/**
 * @module
 * The network map (pure): ports, what the scan heard and mesh.yaml's word put
 * together into segments, each with its link, neighbours, subnet, our address
 * on it and what mesh does there (mode and reason). The caller passes what it
 * read (links, the scan, the store's last map and allocations, the clock);
 * this file decides, and returns the rows to store and the events of what
 * changed since the last map.
 */
import {
  type Cidr,
  cidrContains,
  formatCidr,
  formatIpv4,
  parseCidr,
  prefixMask,
} from "../wire/mod.ts";
import { type SegmentGroup, segmentId } from "./segments.ts";
import {
  firstHost,
  planSubnets,
  type SegmentRequest,
  type SubnetAllocation,
} from "./subnet_plan.ts";

import {
  addressServers,
  configuredMode,
  decideMode,
  type ExistingDhcp,
  type GuardSighting,
  type ModeDecision,
  type PortMode,
  type SegmentMode,
} from "./segment_mode.ts";

/** A local interface as the map needs it. */
export interface PortState {
  readonly name: string;
  readonly mac: string;
  readonly carrier: boolean;
  /** Its IPv4 addresses now. */
  readonly addresses: readonly { readonly ip: number; readonly prefix: number }[];
  readonly mode: PortMode;
  /** `interfaces.<name>.subnet` (or the network of a pinned address). */
  readonly pinnedSubnet?: Cidr;
  /** `interfaces.<name>.address`. */
  readonly pinnedAddress?: number;
}

/** Another host heard on a port. */
export interface NeighbourSeen {
  readonly mac: string;
  readonly ip: number;
  readonly interface: string;
}

/** A segment as `mesh net show --json` prints it. */
export interface SegmentReport {
  readonly id: string;
  readonly interfaces: readonly string[];
  /** The port that serves the segment (the first by name with carrier). */
  readonly serving: string | null;
  readonly link: "up" | "down";
  readonly subnet: string | null;
  /** Ours, when the segment is served. */
  readonly address: string | null;
  readonly neighbours: readonly { mac: string; ip: string; interface: string }[];
  /** Subnets in use on the segment as far as mesh can tell: its ports' own and its neighbours'. */
  readonly seen: readonly string[];
  /** What the existing-DHCP probe found; null until it runs. */
  readonly dhcp: ExistingDhcp | null;
  /** mesh.yaml's mode for the segment's ports. */
  readonly configured: PortMode;
  /** What mesh does there: `server` (full DHCP), `proxy`, `off`, or `auto` while undecided. */
  readonly mode: SegmentMode;
  /** True when mesh serves the segment in that mode. */
  readonly served: boolean;
  readonly reason: string;
}

/** A segment of the last stored map: its id and member MACs. */
export interface PreviousSegment {
  readonly id: string;
  readonly macs: readonly string[];
  readonly report?: unknown;
}

export interface NetMapInput {
  readonly ports: readonly PortState[];
  /** The scan's grouping of the ports it scanned (ports with carrier, not off). */
  readonly groups: readonly SegmentGroup[];
  readonly neighbours: readonly NeighbourSeen[];
  readonly previous: readonly PreviousSegment[];
  readonly allocations: readonly SubnetAllocation[];
  readonly pools: readonly Cidr[];
  readonly size: number;
  readonly holdMs: number;
  readonly now: number;
  /** The existing-DHCP probe's finds, by segment id (absent: not probed). */
  readonly dhcp?: ReadonlyMap<string, ExistingDhcp>;
  /** Segments where the rogue guard saw another server, by segment id. */
  readonly guard?: ReadonlyMap<string, GuardSighting>;
}

/** A segment mesh serves with full DHCP, ready for the DHCP server. */
export interface ServerSegment {
  readonly kind: "server";
  readonly segment: string;
  readonly interface: string;
  readonly subnet: Cidr;
  readonly serverIp: number;
}

/**
 * A segment another server owns, where mesh adds the boot information. Our
 * address there is null when we have none yet: the daemon takes a lease.
 */
export interface ProxySegment {
  readonly kind: "proxy";
  readonly segment: string;
  readonly interface: string;
  readonly subnet: Cidr | null;
  readonly serverIp: number | null;
}

export type ServedSegment = ServerSegment | ProxySegment;

/** One change since the last map, for the event log. */
export interface MapEvent {
  readonly kind: "segment-added" | "segment-removed" | "segment-changed" | "subnet-released";
  readonly segment: string;
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface NetMap {
  readonly segments: readonly SegmentReport[];
  /** Per segment, its member MACs (stored with the report). */
  readonly macs: ReadonlyMap<string, readonly string[]>;
  readonly served: readonly ServedSegment[];
  readonly allocations: readonly SubnetAllocation[];
  readonly events: readonly MapEvent[];
}

interface Draft {
  id: string;
  readonly ports: readonly PortState[];
  readonly link: "up" | "down";
}

/** Builds the map. */
export function buildNetMap(input: NetMapInput): NetMap {
  const drafts = draftSegments(input);
  const stored = new Map(input.allocations.map((a) => [a.segment, a.subnet]));
  const modes = new Map(drafts.map((d) => [d.id, modeOf(d, input)]));
  const requests = drafts.map((d) => request(d, modes.get(d.id)!, input.size));
  const lists = avoidLists(drafts, input, stored);
  const plan = planSubnets({
    pools: input.pools,
    size: input.size,
    segments: requests,
    previous: input.allocations,
    avoid: lists.avoid,
    seen: lists.seen,
    now: input.now,
    holdMs: input.holdMs,
  });
  const bySegment = new Map(plan.segments.map((s) => [s.segment, s]));
  const segments: SegmentReport[] = [];
  const served: ServedSegment[] = [];
  for (const d of drafts) {
    const m = modes.get(d.id)!;
    const decided = bySegment.get(d.id);
    const serving = d.ports.find((p) => p.carrier && p.mode !== "off") ?? null;
    let subnet: Cidr | undefined;
    let ours: number | undefined;
    let serve = false;
    if (m.mode === "server" || m.mode === "auto") {
      subnet = decided && "subnet" in decided ? decided.subnet : undefined;
      serve = m.mode === "server" && m.serve && subnet !== undefined && serving !== null;
      ours = serve && subnet ? serverAddress(serving!, subnet) : undefined;
      if (serve && subnet && ours !== undefined) {
        served.push({
          kind: "server",
          segment: d.id,
          interface: serving!.name,
          subnet,
          serverIp: ours,
        });
      }
    } else if (m.mode === "proxy" && m.serve && serving !== null) {
      subnet = proxySubnet(serving, input.dhcp?.get(d.id));
      ours = subnet ? presentAddress(serving, subnet) : serving.pinnedAddress;
      serve = true;
      served.push({
        kind: "proxy",
        segment: d.id,
        interface: serving.name,
        subnet: subnet ?? null,
        serverIp: ours ?? null,
      });
    }
    segments.push({
      id: d.id,
      interfaces: d.ports.map((p) => p.name),
      serving: serving?.name ?? null,
      link: d.link,
      subnet: subnet ? formatCidr(subnet) : null,
      address: ours !== undefined ? formatIpv4(ours) : null,
      neighbours: neighboursOf(d, input.neighbours),
      seen: lists.bySegment.get(d.id) ?? [],
      dhcp: input.dhcp?.get(d.id) ?? null,
      configured: configuredMode(d.ports.map((p) => p.mode)),
      mode: m.mode,
      served: serve,
      reason: (m.mode === "server" || m.mode === "auto") && decided && "error" in decided
        ? decided.error
        : m.mode === "proxy" && serve && ours === undefined
        ? `${m.reason}; taking an address there by DHCP`
        : m.reason,
    });
  }
  return {
    segments,
    macs: new Map(drafts.map((d) => [d.id, d.ports.map((p) => p.mac)])),
    served,
    allocations: plan.allocations,
    events: [
      ...diff(input.previous, segments),
      ...plan.released.map((r) => ({
        kind: "subnet-released" as const,
        segment: r.segment,
        detail: { subnet: formatCidr(r.subnet) },
      })),
    ],
  };
}

/**
 * One draft per scanned group (ports with carrier), with the ids carried
 * over; then the ports the scan left out (no carrier, `mode: off`). Such a
 * port stays in the segment it was last seen in, so its segment keeps its
 * id and subnet while it is dark and gets both back when it returns;
 * a port never seen before is a segment of its own.
 */
function draftSegments(input: NetMapInput): Draft[] {
  const byName = new Map(input.ports.map((p) => [p.name, p]));
  const grouped = new Set<string>();
  const drafts: Draft[] = [];
  for (const g of input.groups) {
    const ports = g.interfaces.flatMap((n) => byName.get(n) ?? []);
    if (ports.length === 0) continue;
    for (const p of ports) grouped.add(p.name);
    drafts.push({ id: g.id, ports, link: ports.some((p) => p.carrier) ? "up" : "down" });
  }
  carryIds(drafts, input.previous);
  for (const p of input.ports) {
    if (grouped.has(p.name)) continue;
    const last = input.previous.find((s) => s.macs.includes(p.mac));
    const id = last?.id ?? segmentId([p.mac]);
    const into = drafts.find((d) => d.id === id);
    if (into) {
      drafts[drafts.indexOf(into)] = { ...into, ports: [...into.ports, p] };
    } else drafts.push({ id, ports: [p], link: p.carrier ? "up" : "down" });
  }
  return drafts.sort((a, b) => cmp(a.id, b.id));
}

/**
 * Keeps a segment's id when its lowest-MAC port leaves (unplugged, moved):
 * a scanned segment takes over the id of a stored segment it shares ports
 * with, the one sharing the most first, so the id (and its subnet) stays
 * with the ports that still work. A segment whose own id was stored keeps it.
 */
function carryIds(drafts: Draft[], previous: readonly PreviousSegment[]): void {
  const taken = new Set(drafts.filter((d) => previous.some((p) => p.id === d.id)).map((d) => d.id));
  const order = [...drafts].sort((a, b) => b.ports.length - a.ports.length || cmp(a.id, b.id));
  for (const d of order) {
    if (taken.has(d.id)) continue;
    const macs = new Set(d.ports.map((p) => p.mac));
    const heir = previous
      .filter((p) => !taken.has(p.id) && p.macs.some((m) => macs.has(m)))
      .sort((a, b) => shared(b.macs, macs) - shared(a.macs, macs) || cmp(a.id, b.id))[0];
    if (heir === undefined) continue;
    d.id = heir.id;
    taken.add(heir.id);
  }
}

function shared(macs: readonly string[], set: ReadonlySet<string>): number {
  return macs.filter((m) => set.has(m)).length;
}

function modeOf(d: Draft, input: NetMapInput): ModeDecision {
  const dhcp = input.dhcp?.get(d.id);
  const guard = input.guard?.get(d.id);
  return decideMode({
    configured: d.ports.map((p) => p.mode),
    link: d.link,
    ...(dhcp ? { dhcp } : {}),
    ...(guard ? { guard } : {}),
  });
}

function request(d: Draft, m: ModeDecision, size: number): SegmentRequest {
  const pinned = d.ports.find((p) => p.pinnedSubnet !== undefined)?.pinnedSubnet;
  return {
    id: d.id,
    // Only full DHCP hands out addresses from the pool; an undecided `auto`
    // segment gets its subnet planned so that it is ready (and shown). A
    // segment with no carrier, or one another server owns, keeps its
    // allocation held.
    needs: (m.mode === "server" && m.serve) || (m.mode === "auto" && d.link === "up"),
    ...(pinned ? { pinned } : {}),
    size,
  };
}

/** The subnet of a proxy segment: the port's own (pinned or present), else what the server offers. */
function proxySubnet(port: PortState, dhcp: ExistingDhcp | undefined): Cidr | undefined {
  if (port.pinnedSubnet) return port.pinnedSubnet;
  const offered = addressServers(dhcp).flatMap((s) => s.subnets)[0];
  if (offered === undefined) return undefined;
  try {
    return parseCidr(offered);
  } catch {
    return undefined;
  }
}

/** The pinned address, or one the port already has inside `subnet`. */
function presentAddress(port: PortState, subnet: Cidr): number | undefined {
  if (port.pinnedAddress !== undefined) return port.pinnedAddress;
  return port.addresses.find((a) => cidrContains(subnet, a.ip) && a.ip !== subnet.network)?.ip;
}

/** Subnets seen from neighbours kept per segment: a flood of made-up senders cannot block the pool. */
export const MAX_SEEN_PER_SEGMENT = 16;

/**
 * What the new subnets must stay clear of: the host's own addresses
 * (`avoid`) and what neighbours use (`seen`). A neighbour's subnet is the
 * host's own subnet on that port when the neighbour's address lies in it,
 * otherwise its /24 (the size nearly every LAN has; a narrower guess could
 * hand out addresses next to it). What lies in a segment's own stored or
 * pinned subnet is mesh's own doing there (our address, our clients) and is
 * not avoided for that segment. Per segment only the subnets with the most
 * neighbours count, at most MAX_SEEN_PER_SEGMENT.
 */
function avoidLists(
  drafts: readonly Draft[],
  input: NetMapInput,
  stored: ReadonlyMap<string, Cidr>,
): { avoid: Cidr[]; seen: Cidr[]; bySegment: Map<string, string[]> } {
  const avoid: Cidr[] = [];
  const seen: Cidr[] = [];
  const bySegment = new Map<string, string[]>();
  for (const d of drafts) {
    const own = [stored.get(d.id), ...d.ports.map((p) => p.pinnedSubnet)].filter(
      (c): c is Cidr => c !== undefined,
    );
    const mine = (ip: number) => own.some((c) => cidrContains(c, ip));
    const names = new Set(d.ports.map((p) => p.name));
    const hostNets = d.ports.flatMap((p) => p.addresses.map((a) => network(a.ip, a.prefix)));
    for (const p of d.ports) {
      for (const a of p.addresses) if (!mine(a.ip)) avoid.push(network(a.ip, a.prefix));
    }
    const counts = new Map<string, { subnet: Cidr; n: number }>();
    for (const n of input.neighbours) {
      if (!names.has(n.interface) || mine(n.ip)) continue;
      const subnet = hostNets.find((c) => cidrContains(c, n.ip)) ?? network(n.ip, 24);
      const key = formatCidr(subnet);
      const c = counts.get(key) ?? { subnet, n: 0 };
      c.n++;
      counts.set(key, c);
    }
    const ranked = [...counts.values()].sort((a, b) =>
      b.n - a.n || a.subnet.network - b.subnet.network || a.subnet.prefix - b.subnet.prefix
    );
    const kept = ranked.slice(0, MAX_SEEN_PER_SEGMENT).map((c) => c.subnet);
    // What another DHCP server hands out there is in use, whatever ARP said.
    for (const sub of addressServers(input.dhcp?.get(d.id)).flatMap((x) => x.subnets)) {
      try {
        kept.push(parseCidr(sub));
      } catch { /* a probe never reports a malformed subnet; nothing to avoid */ }
    }
    seen.push(...kept);
    const all = [...hostNets, ...kept].map(formatCidr);
    bySegment.set(d.id, [...new Set(all)].sort());
  }
  return { avoid, seen, bySegment };
}

function network(ip: number, prefix: number): Cidr {
  return { network: (ip & prefixMask(prefix)) >>> 0, prefix };
}

/** Our address: the pinned one, one already on the port inside the subnet, else the first host. */
function serverAddress(port: PortState, subnet: Cidr): number | undefined {
  const present = presentAddress(port, subnet);
  if (present !== undefined) return present;
  try {
    return firstHost(subnet);
  } catch {
    return undefined; // the planner refuses such sizes; nothing to serve
  }
}

function neighboursOf(d: Draft, all: readonly NeighbourSeen[]): SegmentReport["neighbours"] {
  const names = new Set(d.ports.map((p) => p.name));
  return all
    .filter((n) => names.has(n.interface))
    .map((n) => ({ mac: n.mac, ip: formatIpv4(n.ip), interface: n.interface }));
}

/** What changed between the stored map and this one. */
function diff(previous: readonly PreviousSegment[], now: readonly SegmentReport[]): MapEvent[] {
  const before = new Map(previous.map((p) => [p.id, p.report as Partial<SegmentReport>]));
  const after = new Set(now.map((s) => s.id));
  const events: MapEvent[] = [];
  for (const s of now) {
    const old = before.get(s.id);
    const summary = { interfaces: s.interfaces, link: s.link, subnet: s.subnet, mode: s.mode };
    if (!before.has(s.id)) {
      events.push({ kind: "segment-added", segment: s.id, detail: summary });
      continue;
    }
    const changed = (["interfaces", "link", "subnet", "address", "mode", "served"] as const)
      .filter((k) => JSON.stringify(old?.[k]) !== JSON.stringify(s[k]));
    if (changed.length > 0) {
      const was = Object.fromEntries(changed.map((k) => [k, old?.[k] ?? null]));
      const is = Object.fromEntries(changed.map((k) => [k, s[k]]));
      events.push({ kind: "segment-changed", segment: s.id, detail: { was, is } });
    }
  }
  for (const p of previous) {
    if (!after.has(p.id)) events.push({ kind: "segment-removed", segment: p.id, detail: {} });
  }
  return events;
}

/** UTF-16 code unit order (never the locale's): the same on every machine. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
