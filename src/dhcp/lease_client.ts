/**
 * @module
 * The DHCP client's lease state machine (RFC 2131 §4.4, figure 5), for the
 * address mesh takes on a segment that already has a DHCP server (proxyDHCP
 * mode). Pure: the caller passes the time (milliseconds of one monotonic
 * clock), a transaction-id source and a jitter source; every event returns
 * what to send, which lease to bind or unbind, and when to call `tick` next.
 *
 * ```
 *  INIT ──DISCOVER──► SELECTING ──OFFER/REQUEST──► REQUESTING ──ACK──► BOUND
 *  INIT-REBOOT ──REQUEST(50)──► REBOOTING ──ACK──► BOUND   (timeout ► INIT)
 *  BOUND ──T1──► RENEWING (unicast) ──T2──► REBINDING (broadcast) ──expiry──► INIT
 *  any NAK ──► INIT
 * ```
 */
import { macToBytes } from "../wire/mod.ts";
import { FLAG_BROADCAST, HTYPE_ETHERNET, MessageType, Op, Opt } from "./constants.ts";
import {
  getDnsServers,
  getDomainName,
  getLeaseTime,
  getMessageType,
  getRebindingTime,
  getRenewalTime,
  getRouters,
  getServerId,
  getSubnetMask,
  ipValue,
  textValue,
  u8Value,
} from "./option_values.ts";
import { chaddrFromMac, type DhcpPacket } from "./packet.ts";

/**
 * RFC 2131 §4.4 states. A client waits in INIT or INIT-REBOOT until `start`
 * (and in INIT after a NAK); REBOOTING is where INIT-REBOOT's REQUEST waits
 * for its answer. STOPPED follows `stop` and is final.
 */
export const ClientState = {
  Init: "INIT",
  InitReboot: "INIT-REBOOT",
  Rebooting: "REBOOTING",
  Selecting: "SELECTING",
  Requesting: "REQUESTING",
  Bound: "BOUND",
  Renewing: "RENEWING",
  Rebinding: "REBINDING",
  Stopped: "STOPPED",
} as const;
export type ClientState = typeof ClientState[keyof typeof ClientState];

/** An address the server gave us. Times are absolute, on the caller's clock (ms). */
export interface Lease {
  readonly ip: number;
  /** From option 1; the classful default when the server sent none (as dhclient does). */
  readonly prefix: number;
  readonly routers: readonly number[];
  readonly dnsServers: readonly number[];
  readonly domainName?: string;
  /** Option 54: where RENEWING and DHCPRELEASE go. */
  readonly serverId: number;
  /** Option 51; 0xffffffff = infinite (the times below are then Infinity). */
  readonly leaseSeconds: number;
  readonly boundAt: number;
  /** T1 and T2 (options 58/59, or 0.5 and 0.875 of the lease). */
  readonly renewAt: number;
  readonly rebindAt: number;
  readonly expiresAt: number;
  /** The state whose ACK made this lease (REBOOTING = the restart kept its address). */
  readonly via: "REQUESTING" | "REBOOTING" | "RENEWING" | "REBINDING";
}

export type UnbindReason = "nak" | "expired" | "released" | "changed";
export type IgnoreReason =
  | "stopped"
  | "state"
  | "not-reply"
  | "xid"
  | "chaddr"
  | "type"
  | "proxy-offer"
  | "bad-yiaddr"
  | "no-server-id"
  | "other-server"
  | "no-lease-time";

export type SendTo = "broadcast" | { readonly ip: number };

/** What one event asks the shell to do. */
export interface LeaseDecision {
  readonly send?: { readonly packet: DhcpPacket; readonly to: SendTo };
  /** Sent on every ACK: a renewal binds the same address again with later times. */
  readonly bind?: Lease;
  readonly unbind?: Lease;
  /** Set with `unbind`. */
  readonly why?: UnbindReason;
  /** Set when a received packet changed nothing (for counters and logs). */
  readonly ignored?: IgnoreReason;
  /** When to call `tick` next (Infinity: only events can move it on). */
  readonly nextAt: number;
}

export interface LeaseClientConfig {
  /** The interface's real MAC: the server leases to it (chaddr, option 61). */
  readonly mac: string;
  /** An address held before a restart: asked for again through INIT-REBOOT. */
  readonly previous?: number;
  /** Option 12. */
  readonly hostname?: string;
  /** A fresh transaction id (u32) per exchange. */
  readonly xid: () => number;
  /** Milliseconds in [-1000, 1000] added to each SELECTING/REQUESTING delay (RFC 2131 §4.1). */
  readonly jitter?: () => number;
  /** Ask servers to broadcast replies (not needed with a raw socket, which sees unicast too). */
  readonly broadcastFlag?: boolean;
}

/** Options 1, 3, 6, 15, 51, 58, 59. */
export const PARAMETER_REQUEST_LIST: readonly number[] = [
  Opt.SubnetMask,
  Opt.Router,
  Opt.DomainNameServer,
  Opt.DomainName,
  Opt.IpAddressLeaseTime,
  Opt.RenewalTime,
  Opt.RebindingTime,
];

export const LEASE_CLIENT_TIMING = {
  /** First retransmission delay, doubled each time up to `maxBackoffMs` (RFC 2131 §4.1). */
  firstBackoffMs: 4000,
  maxBackoffMs: 64_000,
  /** REQUESTs sent for an OFFER before going back to INIT (4 s + 8 s + 16 s + 32 s ≈ 60 s). */
  requestAttempts: 4,
  /** How long REBOOTING waits for an answer (dhclient's `reboot` default): a server that does not know the lease stays silent. */
  rebootTimeoutMs: 10_000,
  /** How long SELECTING waits for an offer of the previous address after another one came. */
  offerWaitMs: 1000,
  /** Shortest RENEWING/REBINDING retransmission delay (RFC 2131 §4.4.5). */
  minRenewRetryMs: 60_000,
  /** A 0-second lease would make the client loop as fast as the network: leases last this at least. */
  minLeaseSeconds: 10,
} as const;
const T = LEASE_CLIENT_TIMING;
const INFINITE = 0xffffffff;

interface Offer {
  readonly yiaddr: number;
  readonly serverId: number;
}

/** One client on one interface. */
export class LeaseClient {
  readonly #cfg: LeaseClientConfig;
  readonly #mac: Uint8Array;
  readonly #chaddr: Uint8Array;
  readonly #clientId: Uint8Array;
  readonly #hostname: Uint8Array | undefined;
  #state: ClientState;
  #xid = 0;
  #nextAt = Infinity;
  /** Transmissions of the current message so far, minus one. */
  #attempt = 0;
  /** When the current exchange began (`secs`, REBOOTING's timeout). */
  #since = 0;
  /** The address to ask for: the previous one, then the one last bound. */
  #preferred: number | undefined;
  /** SELECTING: an offer held while waiting for the preferred one; REQUESTING: the one asked for. */
  #offer: Offer | undefined;
  #lease: Lease | undefined;
  /** NAKs since the last bind: each restart after the first waits longer (a NAK loop stays slow). */
  #naks = 0;

  constructor(cfg: LeaseClientConfig) {
    this.#cfg = cfg;
    this.#mac = macToBytes(cfg.mac);
    this.#chaddr = chaddrFromMac(cfg.mac);
    this.#clientId = Uint8Array.of(HTYPE_ETHERNET, ...this.#mac);
    this.#hostname = cfg.hostname === undefined ? undefined : textValue(cfg.hostname);
    this.#preferred = cfg.previous;
    this.#state = cfg.previous === undefined ? ClientState.Init : ClientState.InitReboot;
  }

  get state(): ClientState {
    return this.#state;
  }
  /** The transaction id replies must carry now. */
  get xid(): number {
    return this.#xid;
  }
  get lease(): Lease | undefined {
    return this.#lease;
  }

  /** Begins: DISCOVER from INIT, or REQUEST for the previous address from INIT-REBOOT. */
  start(now: number): LeaseDecision {
    if (this.#state === ClientState.Init && this.#nextAt === Infinity) return this.#discover(now);
    if (this.#state === ClientState.InitReboot) return this.#begin(ClientState.Rebooting, now);
    return { nextAt: this.#nextAt };
  }

  /** Gives the lease back: a DHCPRELEASE unicast to its server when bound. Final. */
  stop(_now: number): LeaseDecision {
    const lease = this.#lease;
    this.#state = ClientState.Stopped;
    this.#lease = undefined;
    this.#nextAt = Infinity;
    if (lease === undefined) return { nextAt: Infinity };
    this.#xid = this.#cfg.xid() >>> 0;
    // RFC 2131 table 5: a DHCPRELEASE carries 53, 54 and 61 only.
    const o = new Map<number, Uint8Array>([
      [Opt.MessageType, u8Value(MessageType.Release)],
      [Opt.ServerIdentifier, ipValue(lease.serverId)],
      [Opt.ClientIdentifier, this.#clientId],
    ]);
    const packet = this.#packet(o, lease.ip, 0);
    return {
      send: { packet, to: { ip: lease.serverId } },
      unbind: lease,
      why: "released",
      nextAt: Infinity,
    };
  }

  /** A timer fired (early calls change nothing). */
  tick(now: number): LeaseDecision {
    if (now < this.#nextAt) return { nextAt: this.#nextAt };
    const s = this.#state;
    if (s === ClientState.Init) return this.#discover(now);
    if (s === ClientState.Selecting) {
      return this.#offer ? this.#begin(ClientState.Requesting, now, this.#offer) : this.#again(now);
    }
    if (s === ClientState.Requesting) {
      return this.#attempt + 1 < T.requestAttempts ? this.#again(now) : this.#discover(now);
    }
    if (s === ClientState.Rebooting) {
      return now - this.#since < T.rebootTimeoutMs ? this.#again(now) : this.#discover(now);
    }
    const lease = this.#lease;
    if (lease === undefined) return { nextAt: this.#nextAt = Infinity };
    if (now >= lease.expiresAt) {
      this.#lease = undefined;
      return { ...this.#discover(now), unbind: lease, why: "expired" };
    }
    if (now >= lease.rebindAt && s !== ClientState.Rebinding) {
      return this.#begin(ClientState.Rebinding, now);
    }
    if (now >= lease.renewAt && s === ClientState.Bound) {
      return this.#begin(ClientState.Renewing, now);
    }
    return s === ClientState.Bound ? { nextAt: this.#nextAt = lease.renewAt } : this.#again(now);
  }

  /** A decoded packet arrived on port 68. */
  received(pkt: DhcpPacket, now: number): LeaseDecision {
    const s = this.#state;
    const ignore = (ignored: IgnoreReason): LeaseDecision => ({ ignored, nextAt: this.#nextAt });
    if (s === ClientState.Stopped) return ignore("stopped");
    if (pkt.op !== Op.BootReply) return ignore("not-reply");
    if (pkt.xid !== this.#xid) return ignore("xid");
    if (!this.#ours(pkt)) return ignore("chaddr");
    const type = getMessageType(pkt.options);
    const sid = getServerId(pkt.options);
    if (s === ClientState.Selecting) {
      if (type !== MessageType.Offer) return ignore("type");
      // A proxyDHCP offer (ours included) carries boot options, no address.
      if (pkt.yiaddr === 0) return ignore("proxy-offer");
      if (!usable(pkt.yiaddr)) return ignore("bad-yiaddr");
      if (sid === undefined) return ignore("no-server-id");
      const offer = { yiaddr: pkt.yiaddr, serverId: sid };
      if (this.#preferred === undefined || offer.yiaddr === this.#preferred) {
        return this.#begin(ClientState.Requesting, now, offer);
      }
      if (this.#offer === undefined) { // the first offer, kept while the preferred one may come
        this.#offer = offer;
        this.#nextAt = Math.min(this.#nextAt, now + T.offerWaitMs);
      }
      return { nextAt: this.#nextAt };
    }
    if (
      s !== ClientState.Requesting && s !== ClientState.Rebooting &&
      s !== ClientState.Renewing && s !== ClientState.Rebinding
    ) return ignore("state");
    if (type !== MessageType.Ack && type !== MessageType.Nak) return ignore("type");
    // Asked of one server (REQUESTING names it, RENEWING unicasts to it): only it answers.
    const asked = s === ClientState.Requesting
      ? this.#offer?.serverId
      : s === ClientState.Renewing
      ? this.#lease?.serverId
      : undefined;
    if (sid !== undefined && asked !== undefined && sid !== asked) return ignore("other-server");
    if (type === MessageType.Nak) return this.#nak(now);
    return this.#ack(pkt, s, sid ?? asked ?? this.#lease?.serverId, now);
  }

  #ours(pkt: DhcpPacket): boolean {
    if (pkt.htype !== HTYPE_ETHERNET || pkt.hlen !== 6 || pkt.chaddr.length < 6) return false;
    for (let i = 0; i < 6; i++) if (pkt.chaddr[i] !== this.#mac[i]) return false;
    return true;
  }

  #ack(
    pkt: DhcpPacket,
    via: Lease["via"],
    serverId: number | undefined,
    now: number,
  ): LeaseDecision {
    const ignore = (ignored: IgnoreReason): LeaseDecision => ({ ignored, nextAt: this.#nextAt });
    if (!usable(pkt.yiaddr)) return ignore("bad-yiaddr");
    if (serverId === undefined) return ignore("no-server-id");
    const seconds = getLeaseTime(pkt.options);
    if (seconds === undefined) return ignore("no-lease-time");
    const lease = makeLease(pkt, serverId, Math.max(seconds, T.minLeaseSeconds), via, now);
    const old = this.#lease;
    this.#lease = lease;
    this.#state = ClientState.Bound;
    this.#preferred = lease.ip;
    this.#offer = undefined;
    this.#naks = 0;
    this.#nextAt = lease.renewAt;
    const changed = old !== undefined && old.ip !== lease.ip;
    return {
      bind: lease,
      ...(changed ? { unbind: old, why: "changed" as const } : {}),
      nextAt: this.#nextAt,
    };
  }

  #nak(now: number): LeaseDecision {
    const old = this.#lease;
    this.#lease = undefined;
    this.#preferred = undefined; // the server refused it: do not ask for it again
    this.#offer = undefined;
    this.#state = ClientState.Init;
    this.#naks++;
    this.#nextAt = now + (this.#naks === 1 ? 0 : this.#backoff(this.#naks - 2));
    return old ? { unbind: old, why: "nak", nextAt: this.#nextAt } : { nextAt: this.#nextAt };
  }

  #discover(now: number): LeaseDecision {
    this.#offer = undefined;
    return this.#begin(ClientState.Selecting, now);
  }

  /** Enters a sending state with a new exchange (REQUESTING keeps the OFFER's xid). */
  #begin(state: ClientState, now: number, offer?: Offer): LeaseDecision {
    if (state !== ClientState.Requesting) this.#xid = this.#cfg.xid() >>> 0;
    if (state !== ClientState.Requesting || this.#state !== ClientState.Selecting) {
      this.#since = now;
    }
    this.#state = state;
    this.#offer = offer ?? this.#offer;
    this.#attempt = -1;
    return this.#again(now);
  }

  /** (Re)transmits the current state's message and sets its retransmission time. */
  #again(now: number): LeaseDecision {
    this.#attempt++;
    const s = this.#state;
    const lease = this.#lease;
    const secs = Math.min(0xffff, Math.floor((now - this.#since) / 1000));
    const o = this.#options(
      s === ClientState.Selecting ? MessageType.Discover : MessageType.Request,
    );
    let ciaddr = 0;
    let to: SendTo = "broadcast";
    if ((s === ClientState.Renewing || s === ClientState.Rebinding) && lease) {
      ciaddr = lease.ip; // RFC 2131 table 5: ciaddr set, options 50 and 54 MUST NOT
      if (s === ClientState.Renewing) to = { ip: lease.serverId };
      const end = s === ClientState.Renewing ? lease.rebindAt : lease.expiresAt;
      this.#nextAt = Math.min(end, now + Math.max(T.minRenewRetryMs, (end - now) / 2));
    } else {
      const want = s === ClientState.Requesting ? this.#offer?.yiaddr : this.#preferred;
      if (want !== undefined) o.set(Opt.RequestedIpAddress, ipValue(want));
      if (s === ClientState.Requesting && this.#offer) {
        o.set(Opt.ServerIdentifier, ipValue(this.#offer.serverId));
      }
      this.#nextAt = now + this.#backoff(this.#attempt);
      if (s === ClientState.Rebooting) {
        this.#nextAt = Math.min(this.#nextAt, this.#since + T.rebootTimeoutMs);
      }
    }
    o.set(Opt.ParameterRequestList, Uint8Array.from(PARAMETER_REQUEST_LIST));
    return { send: { packet: this.#packet(o, ciaddr, secs), to }, nextAt: this.#nextAt };
  }

  #backoff(attempt: number): number {
    const base = Math.min(T.maxBackoffMs, T.firstBackoffMs * 2 ** Math.min(attempt, 16));
    const j = this.#cfg.jitter?.() ?? 0;
    return base + (Number.isFinite(j) ? Math.max(-1000, Math.min(1000, j)) : 0);
  }

  #options(type: number): Map<number, Uint8Array> {
    const o = new Map<number, Uint8Array>([
      [Opt.MessageType, u8Value(type)],
      [Opt.ClientIdentifier, this.#clientId],
    ]);
    if (this.#hostname) o.set(Opt.Hostname, this.#hostname);
    return o;
  }

  #packet(options: Map<number, Uint8Array>, ciaddr: number, secs: number): DhcpPacket {
    return {
      op: Op.BootRequest,
      htype: HTYPE_ETHERNET,
      hlen: 6,
      hops: 0,
      xid: this.#xid,
      secs,
      flags: this.#cfg.broadcastFlag ? FLAG_BROADCAST : 0,
      ciaddr,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: this.#chaddr,
      sname: "",
      file: "",
      options,
    };
  }
}

/** A unicast host address a server may hand out (not 0/8, loopback, multicast or broadcast). */
function usable(ip: number): boolean {
  const a = ip >>> 24;
  return a !== 0 && a !== 127 && a < 224;
}

function makeLease(
  pkt: DhcpPacket,
  serverId: number,
  seconds: number,
  via: Lease["via"],
  now: number,
): Lease {
  const o = pkt.options;
  const infinite = seconds === INFINITE;
  const t2 = valid(getRebindingTime(o), seconds) ?? seconds * 0.875;
  const t1 = Math.min(valid(getRenewalTime(o), seconds) ?? seconds * 0.5, t2);
  const at = (s: number) => infinite ? Infinity : now + s * 1000;
  const domainName = getDomainName(o);
  return {
    ip: pkt.yiaddr,
    prefix: prefixOf(getSubnetMask(o), pkt.yiaddr),
    routers: getRouters(o) ?? [],
    dnsServers: getDnsServers(o) ?? [],
    ...(domainName !== undefined ? { domainName } : {}),
    serverId,
    leaseSeconds: seconds,
    boundAt: now,
    renewAt: at(t1),
    rebindAt: at(t2),
    expiresAt: at(seconds),
    via,
  };
}

/** Option 58/59 when it is inside the lease, else undefined (the defaults apply). */
function valid(t: number | undefined, lease: number): number | undefined {
  return t !== undefined && t > 0 && t < lease ? t : undefined;
}

/** A contiguous mask's length; otherwise the address's class (RFC 791), as dhclient assumes. */
function prefixOf(mask: number | undefined, ip: number): number {
  if (mask !== undefined) {
    const inv = ~mask >>> 0;
    if ((inv & (inv + 1)) === 0 && mask !== 0) return Math.clz32(inv);
  }
  const a = ip >>> 24;
  return a < 128 ? 8 : a < 192 ? 16 : 24;
}
