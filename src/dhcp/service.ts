/**
 * @module
 * The authoritative DHCP service as the daemon starts it: pools from the
 * served interfaces (and subnets behind relays), reservations, boot files,
 * leases restored from the store, the server loop with ARP probing, and node
 * events ("discovered" for a network boot client's DISCOVER, "dhcp" for every
 * ACK) for the node registry.
 */
import { getLogger } from "@logtape/logtape";
import type { BootFilesConfig } from "../boot/mod.ts";
import { type Cidr, cidrContains, formatIpv4 } from "../wire/mod.ts";
import {
  type AuthoritativeResponder,
  authoritativeResponder,
  type Decision,
  type RequestContext,
  type SegmentSettings,
} from "./authoritative.ts";
import { type BootClient, classifyClient } from "./client.ts";
import { MessageType, Opt } from "./constants.ts";
import type { LeaseChange, LeaseRow, PoolReservation } from "./lease_types.ts";
import { bytesToText, getMessageType } from "./option_values.ts";
import type { DhcpPacket } from "./packet.ts";
import { type DhcpServerHandle, type DhcpServerOptions, startDhcpServer } from "./server.ts";

const log = getLogger(["mesh", "dhcp"]);

/** Addressing of one segment (an interface we listen on, or a subnet behind a relay). */
export interface DhcpSegmentOptions {
  readonly subnet: Cidr;
  /** First and last dynamic address (inclusive). */
  readonly pool: { readonly start: number; readonly end: number };
  readonly routers?: readonly number[];
  readonly dns?: readonly number[];
  readonly domain?: string;
  /** Lease time in seconds. */
  readonly leaseTime: number;
}

/** A served interface. */
export interface DhcpInterfaceOptions extends DhcpSegmentOptions {
  readonly name: string;
  /** Our address on it (option 54, relay replies' source). */
  readonly serverIp: number;
  /** Segment name stored with leases; the interface name by default. */
  readonly segment?: string;
}

/** A subnet reached through a relay agent (giaddr inside `subnet`). */
export interface DhcpRelayedSubnetOptions extends DhcpSegmentOptions {
  /** Segment name stored with its leases. */
  readonly segment: string;
}

/** A fixed address from mesh.yaml (dhcp.reservations). */
export interface DhcpReservation {
  readonly mac?: string;
  /** 8-hex node id. */
  readonly node?: string;
  readonly ip: number;
  readonly hostname?: string;
}

/** A node registry event. */
export interface DhcpNodeEvent {
  readonly mac: string;
  readonly ip?: string;
  /** "discovered": DISCOVER from PXE firmware or iPXE; "dhcp": an ACK was sent. */
  readonly stage: "discovered" | "dhcp";
  readonly detail: Record<string, unknown>;
}

/** What the daemon passes in. */
export interface DhcpServiceOptions {
  readonly interfaces: readonly DhcpInterfaceOptions[];
  /** Subnets served through relays (requests arrive on one of `interfaces`). */
  readonly relayed?: readonly DhcpRelayedSubnetOptions[];
  readonly reservations?: readonly DhcpReservation[];
  /** Boot files for a segment served from `serverIp`; undefined = no PXE there. */
  readonly boot?: (segment: string, serverIp: number) => BootFilesConfig | undefined;
  /** Where leases are restored from and written to (store/mod.ts LeaseStore). */
  readonly store: {
    loadAll(): LeaseRow[];
    writeNow(rows: readonly LeaseChange[]): void;
  };
  /** ARP-probe addresses never seen in use before offering them (default true). */
  readonly probe?: boolean;
  readonly probeTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (ev: DhcpNodeEvent) => void;
  /** Injected clock (unix ms), for tests. */
  readonly now?: () => number;
  /** How often overdue leases are marked expired (default 10 s). */
  readonly sweepMs?: number;
  /** Request budget per client MAC (default DEFAULT_CLIENT_BUDGET; false: none). */
  readonly clientBudget?: DhcpServerOptions["clientBudget"];
}

/** The running service. */
export interface DhcpServiceHandle extends DhcpServerHandle {
  /** The responder and its pools (counts and rows for status pages). */
  readonly responder: AuthoritativeResponder;
}

function segmentSettings(
  s: DhcpSegmentOptions,
  segment: string,
  reservations: readonly DhcpReservation[],
  own: readonly number[],
): SegmentSettings {
  const inSubnet = (ip: number) => cidrContains(s.subnet, ip);
  const res: PoolReservation[] = reservations.filter((r) => inSubnet(r.ip)).map((r) => ({
    ip: r.ip,
    ...(r.mac !== undefined ? { mac: r.mac.toLowerCase() } : {}),
    ...(r.node !== undefined ? { node: r.node.toLowerCase() } : {}),
    ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
  }));
  // Never hand out our own address, the routers' or the DNS servers'.
  const excluded = [...own, ...(s.routers ?? []), ...(s.dns ?? [])].filter(inSubnet);
  return {
    pool: {
      segment,
      subnet: s.subnet,
      rangeStart: s.pool.start,
      rangeEnd: s.pool.end,
      reservations: res,
      excluded,
    },
    leaseTime: s.leaseTime,
    ...(s.routers !== undefined ? { routers: s.routers } : {}),
    ...(s.dns !== undefined ? { dns: s.dns } : {}),
    ...(s.domain !== undefined ? { domain: s.domain } : {}),
  };
}

function checkSegment(s: DhcpSegmentOptions, what: string): void {
  const bad = [s.pool.start, s.pool.end].find((ip) => !cidrContains(s.subnet, ip));
  if (bad !== undefined) {
    throw new Error(`dhcp: ${what}: pool address ${formatIpv4(bad)} is outside its subnet`);
  }
  if (s.pool.start > s.pool.end) throw new Error(`dhcp: ${what}: pool start is after its end`);
  if (!(s.leaseTime > 0)) throw new Error(`dhcp: ${what}: lease time must be positive`);
}

/**
 * True for a network boot client: PXE firmware, UEFI HTTP boot, or iPXE (a
 * QEMU or flashed NIC ROM is iPXE, so its DISCOVER is the first of a boot).
 * The registry decides whether it starts a new boot: a chained iPXE's
 * DISCOVER within the same boot does not (see store/stages.ts nextStage).
 */
function isNetbootClient(c: BootClient): boolean {
  return c.isIpxe || c.isPxe || c.isHttpClient || c.arch !== null;
}

/** What the registry calls the client: iPXE by name, else the firmware class. */
function firmwareName(c: BootClient): string {
  return c.isIpxe ? "ipxe" : c.firmware;
}

/** The boot file or URL a reply hands out, if any. */
function bootFileOf(reply: DhcpPacket): string | undefined {
  const o67 = reply.options.get(Opt.BootfileName);
  if (o67 !== undefined) return bytesToText(o67);
  return reply.file !== "" ? reply.file : undefined;
}

/** Turns final decisions into node events (only built when someone listens). */
function eventHook(
  onEvent: (ev: DhcpNodeEvent) => void,
): (req: DhcpPacket, d: Decision, sent: boolean, ctx: RequestContext) => void {
  // Firmware retransmits a DISCOVER with the same xid; one event per boot attempt.
  const lastXid = new Map<string, number>();
  return (req, d, sent, ctx) => {
    const type = getMessageType(req.options);
    if (type === MessageType.Discover) {
      const c = classifyClient(req);
      if (!isNetbootClient(c) || lastXid.get(c.mac) === req.xid) return;
      if (lastXid.size >= 4096) lastXid.clear();
      lastXid.set(c.mac, req.xid);
      const offered = d.kind === "reply" ? d.packet.yiaddr : 0;
      onEvent({
        mac: c.mac,
        ...(offered !== 0 ? { ip: formatIpv4(offered) } : {}),
        stage: "discovered",
        detail: {
          segment: ctx.segment,
          firmware: firmwareName(c),
          arch: c.arch,
          archName: c.archName,
          ...(c.vendorClass !== undefined ? { vendorClass: c.vendorClass } : {}),
          ...(c.uuid !== undefined ? { uuid: c.uuid } : {}),
          reason: d.reason,
        },
      });
      return;
    }
    if (d.kind !== "reply" || !sent || d.packet.yiaddr === 0) return;
    if (d.packet.options.get(Opt.MessageType)?.[0] !== MessageType.Ack) return;
    const c = classifyClient(req);
    const ip = formatIpv4(d.packet.yiaddr);
    const boot = bootFileOf(d.packet);
    onEvent({
      mac: c.mac,
      ip,
      stage: "dhcp",
      detail: {
        ip,
        segment: ctx.segment,
        firmware: firmwareName(c),
        arch: c.arch,
        ...(boot !== undefined ? { boot } : {}),
        ...(c.uuid !== undefined ? { uuid: c.uuid } : {}),
        reason: d.reason,
      },
    });
  };
}

/**
 * Starts the authoritative DHCP server on every interface in `opts`.
 * Throws an Error naming the interface when its sockets cannot be opened,
 * and a plain Error for inconsistent settings.
 */
export function startDhcpService(opts: DhcpServiceOptions): DhcpServiceHandle {
  const reservations = opts.reservations ?? [];
  const ownIps = opts.interfaces.map((i) => i.serverIp);
  const segments: SegmentSettings[] = [];
  const names = new Set<string>();
  const add = (s: DhcpSegmentOptions, segment: string, what: string) => {
    checkSegment(s, what);
    if (names.has(segment)) throw new Error(`dhcp: segment ${segment} is configured twice`);
    names.add(segment);
    segments.push(segmentSettings(s, segment, reservations, ownIps));
  };
  for (const i of opts.interfaces) add(i, i.segment ?? i.name, `interface ${i.name}`);
  for (const r of opts.relayed ?? []) add(r, r.segment, `relayed segment ${r.segment}`);

  const rows = opts.store.loadAll();
  const responder = authoritativeResponder({
    segments,
    rows,
    ...(opts.boot !== undefined ? { boot: opts.boot } : {}),
  });
  const server = startDhcpServer({
    interfaces: opts.interfaces.map((i) => ({
      name: i.name,
      serverIp: i.serverIp,
      subnet: i.subnet,
      ...(i.segment !== undefined ? { segment: i.segment } : {}),
    })),
    responder,
    store: opts.store,
    probe: opts.probe ?? true,
    upcoming: (segment, count) => responder.pool(segment)?.upcomingFresh(count) ?? [],
    ...(opts.probeTimeoutMs !== undefined ? { probeTimeoutMs: opts.probeTimeoutMs } : {}),
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    ...(opts.now !== undefined ? { now: opts.now } : {}),
    ...(opts.sweepMs !== undefined ? { sweepMs: opts.sweepMs } : {}),
    ...(opts.clientBudget !== undefined ? { clientBudget: opts.clientBudget } : {}),
    ...(opts.onEvent !== undefined ? { onDecision: eventHook(opts.onEvent) } : {}),
  });
  log.info("dhcp service started", {
    interfaces: opts.interfaces.map((i) => i.name),
    relayed: (opts.relayed ?? []).map((r) => r.segment),
    restored: rows.length,
  });
  return { ...server, responder };
}
