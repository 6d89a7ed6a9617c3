/**
 * @module
 * Test-only stand-in for the authoritative responder, so the server loop,
 * transports and lease store can be judged by real clients before the pure
 * responder from src/dhcp lands. Deliberately small: one pool per subnet,
 * sticky addresses per MAC, oldest-free reuse, NAK for wrong subnet or
 * unknown lease. Not used by production code.
 */
import type { DhcpDecision, DhcpResponder, RequestContext } from "../../src/dhcp/server.ts";
import {
  clientMac,
  type DhcpPacket,
  getClientIdHex,
  getHostname,
  getMessageType,
  getRequestedIp,
  getServerId,
  ipListValue,
  ipValue,
  MessageType,
  Opt,
  u32Value,
  u8Value,
} from "../../src/dhcp/mod.ts";
import { type Cidr, cidrContains, prefixMask } from "../../src/net/mod.ts";
import type { LeaseRow } from "../../src/store/lease_store.ts";

export interface StandInPool {
  readonly subnet: Cidr;
  readonly start: number;
  readonly end: number;
  readonly router?: number;
  readonly leaseSeconds: number;
}

interface Held {
  mac: string;
  state: LeaseRow["state"];
  expiresAt: number;
  updatedAt: number;
}

export class StandInResponder implements DhcpResponder {
  readonly #pools: readonly StandInPool[];
  readonly #byIp = new Map<number, Held>();
  readonly #byMac = new Map<string, number>();
  readonly #offers = new Map<string, number>();

  constructor(pools: readonly StandInPool[], rows: readonly LeaseRow[] = []) {
    this.#pools = pools;
    for (const r of rows) {
      this.#byIp.set(r.ip, {
        mac: r.mac,
        state: r.state,
        expiresAt: r.expiresAt,
        updatedAt: r.updatedAt,
      });
      if (r.state !== "declined") this.#byMac.set(r.mac, r.ip);
    }
  }

  #pool(req: DhcpPacket, ctx: RequestContext): StandInPool | undefined {
    const where = req.giaddr !== 0 ? req.giaddr : ctx.serverIp;
    return this.#pools.find((p) => cidrContains(p.subnet, where));
  }

  #free(ip: number, mac: string, now: number): boolean {
    const h = this.#byIp.get(ip);
    if (!h) return true;
    if (h.mac === mac && h.state !== "declined") return true;
    if (h.state === "declined") return h.expiresAt <= now;
    return h.state !== "bound" || h.expiresAt <= now;
  }

  #choose(pool: StandInPool, mac: string, now: number): number | undefined {
    const mine = this.#byMac.get(mac) ?? this.#offers.get(mac);
    if (
      mine !== undefined && mine >= pool.start && mine <= pool.end && this.#free(mine, mac, now)
    ) return mine;
    const offered = new Set(this.#offers.values());
    let oldest: number | undefined;
    let oldestAt = Infinity;
    for (let ip = pool.start; ip <= pool.end; ip++) {
      if (offered.has(ip)) continue;
      const h = this.#byIp.get(ip);
      if (!h) return ip;
      if (this.#free(ip, mac, now) && h.updatedAt < oldestAt) {
        oldest = ip;
        oldestAt = h.updatedAt;
      }
    }
    return oldest;
  }

  #reply(
    req: DhcpPacket,
    ctx: RequestContext,
    type: number,
    yiaddr: number,
    pool?: StandInPool,
  ): DhcpPacket {
    const o = new Map<number, Uint8Array>();
    o.set(Opt.MessageType, u8Value(type));
    o.set(Opt.ServerIdentifier, ipValue(ctx.serverIp));
    if (pool && type !== MessageType.Nak) {
      if (type !== MessageType.Ack || yiaddr !== 0) {
        o.set(Opt.IpAddressLeaseTime, u32Value(pool.leaseSeconds));
      }
      o.set(Opt.SubnetMask, ipValue(prefixMask(pool.subnet.prefix)));
      if (pool.router !== undefined) o.set(Opt.Router, ipListValue([pool.router]));
    }
    const agent = req.options.get(Opt.RelayAgentInformation);
    if (agent) o.set(Opt.RelayAgentInformation, agent);
    return {
      op: 2,
      htype: req.htype,
      hlen: req.hlen,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: req.ciaddr,
      yiaddr,
      siaddr: 0,
      giaddr: req.giaddr,
      chaddr: req.chaddr,
      sname: "",
      file: "",
      options: o,
    };
  }

  #bind(
    req: DhcpPacket,
    ctx: RequestContext,
    pool: StandInPool,
    ip: number,
    mac: string,
  ): DhcpDecision {
    const expiresAt = ctx.now + pool.leaseSeconds * 1000;
    this.#byIp.set(ip, { mac, state: "bound", expiresAt, updatedAt: ctx.now });
    this.#byMac.set(mac, ip);
    this.#offers.delete(mac);
    const row: LeaseRow = {
      ip,
      mac,
      clientId: getClientIdHex(req.options) ?? null,
      nodeId: null,
      hostname: getHostname(req.options) ?? null,
      state: "bound",
      startsAt: ctx.now,
      expiresAt,
      segment: ctx.segment,
      updatedAt: ctx.now,
    };
    return {
      kind: "reply",
      reason: "ack",
      reply: this.#reply(req, ctx, MessageType.Ack, ip, pool),
      changes: [row],
    };
  }

  #nak(req: DhcpPacket, ctx: RequestContext, reason: string): DhcpDecision {
    return { kind: "reply", reason, reply: this.#reply(req, ctx, MessageType.Nak, 0) };
  }

  respond(req: DhcpPacket, ctx: RequestContext): DhcpDecision {
    if (req.op !== 1) return { kind: "ignore", reason: "not a request" };
    const type = getMessageType(req.options);
    const mac = clientMac(req);
    const pool = this.#pool(req, ctx);
    if (!pool) return { kind: "ignore", reason: "no pool for subnet" };
    switch (type) {
      case MessageType.Discover: {
        const ip = this.#choose(pool, mac, ctx.now);
        if (ip === undefined) return { kind: "ignore", reason: "pool exhausted" };
        this.#offers.set(mac, ip);
        const fresh = !this.#byIp.has(ip);
        return {
          kind: "reply",
          reason: "offer",
          reply: this.#reply(req, ctx, MessageType.Offer, ip, pool),
          ...(fresh ? { probe: ip } : {}),
        };
      }
      case MessageType.Request: {
        const sid = getServerId(req.options);
        const wanted = getRequestedIp(req.options) ?? req.ciaddr;
        if (sid !== undefined && sid !== ctx.serverIp) {
          this.#offers.delete(mac);
          return { kind: "ignore", reason: "client chose another server" };
        }
        if (!cidrContains(pool.subnet, wanted) || wanted < pool.start || wanted > pool.end) {
          return this.#nak(req, ctx, "requested address not in this subnet's pool");
        }
        const known = this.#byMac.get(mac) === wanted || this.#offers.get(mac) === wanted;
        if (!known || !this.#free(wanted, mac, ctx.now)) {
          return this.#nak(req, ctx, "no lease for this client");
        }
        return this.#bind(req, ctx, pool, wanted, mac);
      }
      case MessageType.Release:
      case MessageType.Decline: {
        const ip = type === MessageType.Release ? req.ciaddr : (getRequestedIp(req.options) ?? 0);
        const h = this.#byIp.get(ip);
        if (!h || h.mac !== mac) {
          return { kind: "ignore", reason: "release/decline of unknown lease" };
        }
        const state = type === MessageType.Release ? "released" : "declined";
        const expiresAt = state === "declined" ? ctx.now + 600_000 : ctx.now;
        this.#byIp.set(ip, { mac, state, expiresAt, updatedAt: ctx.now });
        if (state === "declined") this.#byMac.delete(mac);
        const row: LeaseRow = {
          ip,
          mac,
          clientId: null,
          nodeId: null,
          hostname: null,
          state,
          startsAt: ctx.now,
          expiresAt,
          segment: ctx.segment,
          updatedAt: ctx.now,
        };
        // RELEASE and DECLINE get no reply; the decision still carries the row.
        return { kind: "ignore", reason: state, changes: [row] };
      }
      case MessageType.Inform:
        return {
          kind: "reply",
          reason: "inform",
          reply: this.#reply(req, ctx, MessageType.Ack, 0, pool),
        };
      default:
        return { kind: "ignore", reason: `message type ${type}` };
    }
  }

  conflict(ip: number, ctx: RequestContext): readonly LeaseRow[] {
    for (const [m, o] of this.#offers) if (o === ip) this.#offers.delete(m);
    const expiresAt = ctx.now + 600_000;
    this.#byIp.set(ip, {
      mac: "00:00:00:00:00:00",
      state: "declined",
      expiresAt,
      updatedAt: ctx.now,
    });
    return [{
      ip,
      mac: "00:00:00:00:00:00",
      clientId: null,
      nodeId: null,
      hostname: null,
      state: "declined",
      startsAt: ctx.now,
      expiresAt,
      segment: ctx.segment,
      updatedAt: ctx.now,
    }];
  }

  expired(rows: readonly LeaseRow[]): void {
    for (const r of rows) {
      const h = this.#byIp.get(r.ip);
      if (h) h.state = "expired";
    }
  }
}
