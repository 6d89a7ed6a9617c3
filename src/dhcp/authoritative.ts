/**
 * @module
 * The authoritative DHCP responder (pure): one LeasePool per segment,
 * DISCOVER → OFFER, REQUEST (SELECTING, INIT-REBOOT, RENEWING, REBINDING)
 * → ACK/NAK, DECLINE, RELEASE, INFORM, relayed requests served from the pool
 * whose subnet holds giaddr. The server loop commits `changes` before it
 * sends `packet` to `destination`.
 */
import { bootDecision, type BootFilesConfig, nodeIdFor } from "../boot/mod.ts";
import { type Cidr, cidrBroadcast, formatIpv4, prefixMask } from "../wire/mod.ts";
import { bootFields, type BootFieldsOptions } from "./boot_reply.ts";
import { type BootClient, classifyClient } from "./client.ts";
import { MessageType, messageTypeName, Op, Opt } from "./constants.ts";
import { type Destination, replyDestination } from "./destination.ts";
import type { LeaseChange, LeaseClient, LeaseRow, PoolConfig } from "./lease_types.ts";
import { LeasePool } from "./leases.ts";
import {
  getClientIdHex,
  getHostname,
  getMessageType,
  getRequestedIp,
  getServerId,
  ipListValue,
  ipValue,
  textValue,
  u32Value,
} from "./option_values.ts";
import { clientMac, type DhcpPacket, isEthernet } from "./packet.ts";
import { buildReply } from "./reply.ts";

/** Settings of one served segment. */
export interface SegmentSettings {
  readonly pool: PoolConfig;
  /** Lease time in seconds (option 51); T1 = 0.5 and T2 = 0.875 of it. */
  readonly leaseTime: number;
  readonly routers?: readonly number[];
  readonly dns?: readonly number[];
  readonly domain?: string;
}

/** What the responder needs. */
export interface AuthoritativeDeps {
  readonly segments: readonly SegmentSettings[];
  /** Rows from the database; each pool keeps the rows inside its subnet. */
  readonly rows?: Iterable<LeaseRow>;
  /** Boot file settings for a segment served from `serverIp`; undefined = no PXE. */
  readonly boot?: (segment: string, serverIp: number) => BootFilesConfig | undefined;
  readonly bootOptions?: BootFieldsOptions;
  /** Node ids a client may have, best first (default: from its SMBIOS UUID, then its MAC). */
  readonly nodeIds?: (client: BootClient) => readonly string[];
}

/** Per-request facts from the I/O shell. */
export interface RequestContext {
  /** Name of the interface/segment the request arrived on. */
  readonly segment: string;
  /** Our address on that interface (option 54). */
  readonly serverIp: number;
  readonly ifaceSubnet: Cidr;
  /** Unix ms. */
  readonly now: number;
  readonly receivedVia: "broadcast" | "unicast";
}

/** The pool a DISCOVER found without a free address (the shell counts and logs it). */
export interface PoolExhaustion {
  readonly segment: string;
  /** The dynamic range (inclusive), u32. */
  readonly rangeStart: number;
  readonly rangeEnd: number;
}

/** What to do with one request. Every kind carries the rows to commit first. */
export type Decision =
  | {
    readonly kind: "ignore";
    readonly reason: string;
    readonly changes: readonly LeaseChange[];
    /** Set when the request goes unanswered because its pool has no free address. */
    readonly exhausted?: PoolExhaustion;
  }
  | {
    readonly kind: "record";
    readonly reason: string;
    readonly changes: readonly LeaseChange[];
  }
  | {
    readonly kind: "reply";
    readonly packet: DhcpPacket;
    readonly destination: Destination;
    readonly changes: readonly LeaseChange[];
    readonly reason: string;
    /** Set on an OFFER of an address never seen in use: ARP-probe it first. */
    readonly probe?: number;
  };

/** The responder and its pools. */
export interface AuthoritativeResponder {
  respond(req: DhcpPacket, ctx: RequestContext): Decision;
  /**
   * Whether the client is one we know: it has a lease row (bound, or an
   * earlier one kept for it) or a reservation in the pool the request is
   * for. Changes nothing; the shell answers known clients first under load.
   */
  knows(req: DhcpPacket, ctx: RequestContext): boolean;
  /** Pool of a segment. */
  pool(segment: string): LeasePool | undefined;
  readonly pools: ReadonlyMap<string, LeasePool>;
  /** An ARP probe found `ip` in use (by `mac`): quarantine it; commit the change. */
  probeFailed(segment: string, ip: number, now: number, mac?: string): LeaseChange[];
  /** Marks overdue bound leases expired in every pool. */
  expireDue(now: number): LeaseChange[];
  /**
   * The rows (from decisions) are committed: the pools take them. Until
   * then they are staged, seen by later decisions only.
   */
  apply(rows: readonly LeaseChange[]): void;
  /** The rows could not be committed: the pools forget them. */
  discard(rows: readonly LeaseChange[]): void;
}

function ignore(reason: string): Decision {
  return { kind: "ignore", reason, changes: [] };
}

function defaultNodeIds(c: BootClient): string[] {
  const ids: string[] = [];
  if (c.uuid !== undefined) {
    try {
      const r = nodeIdFor({ uuid: c.uuid });
      if (r.from === "uuid") ids.push(r.id);
    } catch { /* all-zero UUID without MAC: fall through to the MAC */ }
  }
  ids.push(nodeIdFor({ mac: c.mac }).id);
  return ids;
}

/** Creates the responder; pools are restored from `deps.rows`. */
export function authoritativeResponder(deps: AuthoritativeDeps): AuthoritativeResponder {
  const rows = deps.rows === undefined ? [] : [...deps.rows];
  const settings = new Map<string, SegmentSettings>();
  const pools = new Map<string, LeasePool>();
  for (const s of deps.segments) {
    settings.set(s.pool.segment, s);
    pools.set(s.pool.segment, LeasePool.restore(s.pool, rows));
  }
  // sha256 per request is a measurable share of a DORA; remember recent clients.
  const idCache = new Map<string, readonly string[]>();
  const nodeIdsOf = deps.nodeIds ?? ((c: BootClient) => {
    const key = `${c.mac}/${c.uuid ?? ""}`;
    let ids = idCache.get(key);
    if (ids === undefined) {
      if (idCache.size >= 4096) idCache.clear();
      ids = defaultNodeIds(c);
      idCache.set(key, ids);
    }
    return ids;
  });

  function poolFor(req: DhcpPacket, ctx: RequestContext): LeasePool | undefined {
    if (req.giaddr === 0) return pools.get(ctx.segment);
    for (const p of pools.values()) if (p.contains(req.giaddr)) return p;
    return undefined;
  }

  // The network options of a segment never change: encode them once per segment.
  const netOptions = new Map<SegmentSettings, readonly (readonly [number, Uint8Array])[][]>();
  function networkOptions(
    s: SegmentSettings,
    withLease: boolean,
  ): readonly (readonly [number, Uint8Array])[] {
    let cached = netOptions.get(s);
    if (cached === undefined) {
      cached = [encodeNetworkOptions(s, false), encodeNetworkOptions(s, true)];
      netOptions.set(s, cached);
    }
    return cached[withLease ? 1 : 0]!;
  }

  function encodeNetworkOptions(s: SegmentSettings, withLease: boolean): [number, Uint8Array][] {
    const subnet = s.pool.subnet;
    const o: [number, Uint8Array][] = [];
    if (withLease) {
      o.push([Opt.IpAddressLeaseTime, u32Value(s.leaseTime)]);
      o.push([Opt.RenewalTime, u32Value(Math.floor(s.leaseTime * 0.5))]);
      o.push([Opt.RebindingTime, u32Value(Math.floor(s.leaseTime * 0.875))]);
    }
    o.push([Opt.SubnetMask, ipValue(prefixMask(subnet.prefix))]);
    o.push([Opt.BroadcastAddress, ipValue(cidrBroadcast(subnet))]);
    if (s.routers?.length) o.push([Opt.Router, ipListValue(s.routers)]);
    if (s.dns?.length) o.push([Opt.DomainNameServer, ipListValue(s.dns)]);
    if (s.domain) o.push([Opt.DomainName, textValue(s.domain)]);
    return o;
  }

  function reply(
    req: DhcpPacket,
    ctx: RequestContext,
    s: SegmentSettings,
    client: BootClient,
    r: { type: number; yiaddr?: number; ciaddr?: number; hostname?: string; reason: string },
    changes: readonly LeaseChange[] = [],
    probe?: number,
  ): Decision {
    const isNak = r.type === MessageType.Nak;
    const options: (readonly [number, Uint8Array])[] = [];
    let boot = null;
    if (!isNak) {
      options.push(...networkOptions(s, r.type !== MessageType.Ack || r.yiaddr !== undefined));
      if (r.hostname) options.push([Opt.Hostname, textValue(r.hostname)]);
      const cfg = deps.boot?.(ctx.segment, ctx.serverIp);
      if (cfg !== undefined) {
        const d = bootDecision(client, cfg);
        boot = bootFields(d, client, deps.bootOptions);
        if (boot !== null) options.push(...boot.options);
        r = { ...r, reason: `${r.reason}; boot: ${d.reason}` };
      }
    }
    const relay = req.options.get(Opt.RelayAgentInformation);
    if (relay !== undefined) options.push([Opt.RelayAgentInformation, relay]);
    const packet = buildReply(req, {
      type: r.type,
      serverId: ctx.serverIp,
      ...(r.yiaddr !== undefined ? { yiaddr: r.yiaddr } : {}),
      ...(r.ciaddr !== undefined ? { ciaddr: r.ciaddr } : {}),
      ...(boot !== null ? { siaddr: boot.siaddr, sname: boot.sname, file: boot.file } : {}),
      options,
    });
    return {
      kind: "reply",
      packet,
      destination: replyDestination(req, packet, r.type),
      changes,
      reason: `${messageTypeName(r.type)}: ${r.reason}`,
      ...(probe !== undefined ? { probe } : {}),
    };
  }

  function respond(req: DhcpPacket, ctx: RequestContext): Decision {
    if (req.op !== Op.BootRequest) return ignore("not a BOOTREQUEST");
    if (!isEthernet(req)) return ignore(`hardware type ${req.htype}/${req.hlen} is not Ethernet`);
    const type = getMessageType(req.options);
    if (type === undefined) return ignore("BOOTP request without DHCP message type");
    const pool = poolFor(req, ctx);
    if (pool === undefined) {
      return ignore(
        req.giaddr !== 0
          ? `no pool for relay ${formatIpv4(req.giaddr)}`
          : `segment ${ctx.segment} is not served`,
      );
    }
    const s = settings.get(pool.segment)!;
    const client = classifyClient(req);
    const lc: LeaseClient = {
      mac: client.mac,
      clientId: getClientIdHex(req.options) ?? null,
      nodeIds: nodeIdsOf(client),
      hostname: getHostname(req.options) ?? null,
    };
    const serverId = getServerId(req.options);
    const requested = getRequestedIp(req.options);
    const leaseMs = s.leaseTime * 1000;
    const nak = (reason: string) => reply(req, ctx, s, client, { type: MessageType.Nak, reason });
    const ack = (ip: number, reason: string, ciaddr?: number) => {
      const b = pool.bind(lc, ip, ctx.now, leaseMs);
      if (!b.ok) return nak(`${formatIpv4(ip)}: ${b.reason}`);
      return reply(req, ctx, s, client, {
        type: MessageType.Ack,
        yiaddr: ip,
        ...(ciaddr !== undefined ? { ciaddr } : {}),
        ...(b.lease.hostname && pool.reservationOf(lc)?.hostname
          ? { hostname: b.lease.hostname }
          : {}),
        reason: `${formatIpv4(ip)} ${reason}`,
      }, b.changes);
    };
    const reservedElsewhere = (ip: number) => {
      const r = pool.reservationOf(lc);
      return r !== undefined && r.ip !== ip ? r : undefined;
    };

    switch (type) {
      case MessageType.Discover: {
        const a = pool.allocate(lc, requested, ctx.now);
        if (a === null) {
          const { segment, rangeStart, rangeEnd } = pool.config;
          return {
            kind: "ignore",
            reason: `pool ${segment} exhausted`,
            changes: [],
            exhausted: { segment, rangeStart, rangeEnd },
          };
        }
        return reply(
          req,
          ctx,
          s,
          client,
          {
            type: MessageType.Offer,
            yiaddr: a.ip,
            ...(a.hostname !== undefined ? { hostname: a.hostname } : {}),
            reason: `${formatIpv4(a.ip)} (${a.source})`,
          },
          [],
          a.probe ? a.ip : undefined,
        );
      }
      case MessageType.Request: {
        if (serverId !== undefined) {
          if (serverId !== ctx.serverIp) {
            pool.cancelOffer(lc);
            return ignore(`client chose server ${formatIpv4(serverId)}`);
          }
          if (requested === undefined) return ignore("SELECTING without requested address");
          return ack(requested, "selected");
        }
        if (req.ciaddr === 0) {
          if (requested === undefined) {
            return ignore("REQUEST without server id, requested address or ciaddr");
          }
          // INIT-REBOOT (RFC 2131 §4.3.2).
          if (!pool.contains(requested)) {
            return nak(`${formatIpv4(requested)} is on the wrong subnet`);
          }
          const r = reservedElsewhere(requested);
          if (r !== undefined) return nak(`client is reserved ${formatIpv4(r.ip)}`);
          if (pool.offerOf(lc, ctx.now) === requested) {
            return ack(requested, "selected (no server id)");
          }
          const row = pool.lease(requested);
          if (row === undefined) {
            return ignore(`no record of ${formatIpv4(requested)} (INIT-REBOOT)`);
          }
          if (pool.leaseOf(lc)?.ip !== requested) {
            return nak(`${formatIpv4(requested)} belongs to another client`);
          }
          return ack(requested, "confirmed (INIT-REBOOT)");
        }
        // RENEWING (unicast) or REBINDING (broadcast).
        const phase = ctx.receivedVia === "unicast" ? "RENEWING" : "REBINDING";
        if (!pool.contains(req.ciaddr)) {
          return nak(`${formatIpv4(req.ciaddr)} is on the wrong subnet`);
        }
        const r = reservedElsewhere(req.ciaddr);
        if (r !== undefined) return nak(`client is reserved ${formatIpv4(r.ip)}`);
        if (pool.leaseOf(lc)?.ip !== req.ciaddr) {
          return nak(`no lease of ${formatIpv4(req.ciaddr)} for this client (${phase})`);
        }
        return ack(req.ciaddr, `extended (${phase})`, req.ciaddr);
      }
      case MessageType.Decline: {
        if (serverId !== undefined && serverId !== ctx.serverIp) {
          return ignore("DECLINE for another server");
        }
        if (requested === undefined) return ignore("DECLINE without requested address");
        const c = pool.decline(lc, requested, ctx.now);
        if (c === null) {
          return ignore(`DECLINE of ${formatIpv4(requested)} not held by this client`);
        }
        return {
          kind: "record",
          reason: `DECLINE: ${formatIpv4(requested)} quarantined`,
          changes: [c],
        };
      }
      case MessageType.Release: {
        if (serverId !== undefined && serverId !== ctx.serverIp) {
          return ignore("RELEASE for another server");
        }
        const c = pool.release(lc, req.ciaddr, ctx.now);
        if (c === null) {
          return ignore(`RELEASE of ${formatIpv4(req.ciaddr)} not bound to this client`);
        }
        return {
          kind: "record",
          reason: `RELEASE: ${formatIpv4(req.ciaddr)} released`,
          changes: [c],
        };
      }
      case MessageType.Inform:
        return reply(req, ctx, s, client, {
          type: MessageType.Ack,
          ciaddr: req.ciaddr,
          reason: `INFORM from ${formatIpv4(req.ciaddr)}`,
        });
      default:
        return ignore(`${messageTypeName(type)} is a server message`);
    }
  }

  function knows(req: DhcpPacket, ctx: RequestContext): boolean {
    if (req.op !== Op.BootRequest || !isEthernet(req)) return false;
    const pool = poolFor(req, ctx);
    if (pool === undefined) return false;
    // Leases and MAC reservations are keyed by the MAC alone: no need to classify the client.
    const bare: LeaseClient = { mac: clientMac(req), clientId: null, nodeIds: [], hostname: null };
    if (pool.leaseOf(bare) !== undefined || pool.reservationOf(bare) !== undefined) return true;
    if (!pool.hasNodeReservations) return false;
    return pool.reservationOf({ ...bare, nodeIds: nodeIdsOf(classifyClient(req)) }) !== undefined;
  }

  return {
    respond,
    knows,
    pool: (segment) => pools.get(segment),
    pools,
    probeFailed(segment, ip, now, mac) {
      const p = pools.get(segment);
      if (p === undefined) return [];
      return [p.quarantine(ip, now, { mac: mac ?? "00:00:00:00:00:00", clientId: null })];
    },
    apply(rows) {
      for (const r of rows) pools.get(r.segment)?.apply([r]);
    },
    discard(rows) {
      for (const r of rows) pools.get(r.segment)?.discard([r]);
    },
    expireDue(now) {
      return [...pools.values()].flatMap((p) => p.expireDue(now));
    },
  };
}
