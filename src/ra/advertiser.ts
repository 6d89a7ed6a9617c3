/**
 * @module
 * The Router Advertisement sender's I/O shell (RFC 4861 §6.2): one raw socket
 * on one interface, waiting in the reactor for Router Solicitations, and the
 * reactor deadline as the timer of the unsolicited advertisements. By default
 * mesh is NOT a default router (router lifetime 0) and advertises no prefix:
 * hosts (iPXE above all) learn that a router-less link is configured, and
 * stop waiting for IPv6 autoconfiguration, without mesh taking over the
 * network's IPv6 routing.
 *
 * When what goes out:
 * - an unsolicited multicast RA at once, the next two at most
 *   MAX_INITIAL_RTR_ADVERT_INTERVAL (16 s) apart, then one every
 *   MinRtrAdvInterval..MaxRtrAdvInterval (200..600 s), uniformly jittered;
 * - an RS is answered at once by a multicast RA, at most one every
 *   MIN_DELAY_BETWEEN_RAS (3 s). Inside that window an RS from an address is
 *   answered by a unicast RA to it straight away (RFC 4861 §6.2.6 allows it;
 *   a bucket of `unicastBurst`, refilled at `unicastPerSecond`, bounds what a
 *   flood of solicitations can make us send); an RS from :: waits for the
 *   next multicast one, due when the window ends;
 * - `close()` sends a last RA with router lifetime 0 (§6.2.5: hosts drop us
 *   as a default router at once; a no-op for the default lifetime 0).
 * We answer without the random 0-500 ms delay of §6.2.6: it keeps several
 * routers from answering in step, and a PXE segment has one of us.
 */
import type { DecodeError } from "../errors.ts";
import { type BpfInstruction, RawSocket, Reactor, type Registration } from "../net/mod.ts";
import { macToBytes } from "../wire/mod.ts";
import {
  ALL_NODES,
  ALL_ROUTERS,
  decodeRsFrame,
  DEFAULT_CUR_HOP_LIMIT,
  encodeRaFrame,
  ETHERTYPE_IPV6,
  ICMPV6_TYPE,
  IP_PROTOCOL_ICMPV6,
  linkLocalFromMac,
  multicastMac,
  parseIpv6,
  parseIpv6Prefix,
  type RouterAdvertisement,
  type RouterSolicitation,
  type RsIgnore,
} from "./packet.ts";

/** RFC 4861 §10 router constants, and mesh's defaults for the variables of §6.2.1. */
export const RA_DEFAULTS = {
  /** MinRtrAdvInterval..MaxRtrAdvInterval. */
  intervalMs: { min: 200_000, max: 600_000 },
  /** MAX_INITIAL_RTR_ADVERT_INTERVAL. */
  initialIntervalMs: 16_000,
  /** MAX_INITIAL_RTR_ADVERTISEMENTS. */
  initialCount: 3,
  /** MIN_DELAY_BETWEEN_RAS. */
  minDelayMs: 3_000,
  unicastBurst: 10,
  unicastPerSecond: 10,
  /** radvd's AdvValidLifetime / AdvPreferredLifetime (RFC 4861's are 30 / 7 days). */
  validLifetimeS: 86_400,
  preferredLifetimeS: 14_400,
} as const;

/** A prefix to advertise for SLAAC (a /64 for hosts to form addresses). */
export interface RaPrefixOptions {
  /** e.g. "fd6d:6573:6800::/64". */
  readonly cidr: string;
  readonly validLifetimeS?: number;
  readonly preferredLifetimeS?: number;
  /** L flag (default true). */
  readonly onLink?: boolean;
  /** A flag (default true). */
  readonly autonomous?: boolean;
}

export interface RouterAdvertiserOptions {
  readonly ifname: string;
  /** The interface's MAC: the frames' source and the source link-layer option. */
  readonly mac: string;
  /** Router lifetime in seconds: 0 (default) = not a default router; else at most 9000. */
  readonly lifetimeS?: number;
  /** A prefix (CIDR text or options) to advertise; none by default. */
  readonly prefix?: string | RaPrefixOptions;
  /** An MTU option (none by default). */
  readonly mtu?: number;
  /** IPv6 source (link-local); default the EUI-64 fe80:: address of `mac`, as Linux forms it. */
  readonly source?: string;
  /** MinRtrAdvInterval..MaxRtrAdvInterval in ms (default 200 000..600 000). */
  readonly intervalMs?: { readonly min: number; readonly max: number };
  /** Cap on the gaps between the first `initialCount` RAs (default 16 000). */
  readonly initialIntervalMs?: number;
  /** Least gap between two multicast RAs (default 3 000). */
  readonly minDelayMs?: number;
  /** Uniform [0, 1) source for the jitter (default Math.random). */
  readonly random?: () => number;
  readonly reactor?: Reactor;
}

export type RaIgnore = RsIgnore | "malformed" | "own";

/** What the schedule wants sent now. */
export type RsAnswer = "multicast" | "unicast" | "later";

/** Timings of the schedule, every field filled in. */
export interface RaTimings {
  readonly minMs: number;
  readonly maxMs: number;
  readonly initialIntervalMs: number;
  readonly initialCount: number;
  readonly minDelayMs: number;
  readonly unicastBurst: number;
  readonly unicastPerSecond: number;
}

/**
 * When to send what, given the time: RFC 4861 §6.2.4 and §6.2.6. No I/O; the
 * clock and the jitter come in as arguments, so tests drive it directly.
 */
export class RaSchedule {
  /** When the next unsolicited multicast RA is due. */
  nextUnsolicited: number;
  /** A multicast RA owed to solicitations that came inside the rate-limit window. */
  pending = Infinity;
  lastMulticast = -Infinity;
  #unsolicited = 0;
  #tokens: number;
  #tokensAt: number;

  constructor(readonly t: RaTimings, readonly random: () => number, now: number) {
    this.nextUnsolicited = now;
    this.#tokens = t.unicastBurst;
    this.#tokensAt = now;
  }

  /** When `tick` should run next. */
  get deadline(): number {
    return Math.max(
      Math.min(this.nextUnsolicited, this.pending),
      this.lastMulticast + this.t.minDelayMs,
    );
  }

  /** True when a multicast RA is due now; the caller sends it, then calls `sentMulticast`. */
  due(now: number): boolean {
    return now >= this.deadline;
  }

  /** Records a multicast RA sent at `now` (any kind: it answers every pending RS). */
  sentMulticast(now: number): void {
    this.lastMulticast = now;
    this.pending = Infinity;
    if (now >= this.nextUnsolicited) {
      this.#unsolicited++;
      let gap = this.t.minMs + this.random() * (this.t.maxMs - this.t.minMs);
      if (this.#unsolicited < this.t.initialCount) gap = Math.min(gap, this.t.initialIntervalMs);
      this.nextUnsolicited = now + gap;
    }
  }

  /** How to answer an RS heard at `now` (from :: when `fromUnspecified`). */
  solicited(now: number, fromUnspecified: boolean): RsAnswer {
    if (now >= this.lastMulticast + this.t.minDelayMs) return "multicast";
    if (!fromUnspecified && this.#take(now)) return "unicast";
    this.pending = Math.min(this.pending, this.lastMulticast + this.t.minDelayMs);
    return "later";
  }

  #take(now: number): boolean {
    const refill = (now - this.#tokensAt) / 1000 * this.t.unicastPerSecond;
    this.#tokens = Math.min(this.t.unicastBurst, this.#tokens + refill);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

/** IPv6 (untagged), next header ICMPv6, ICMPv6 type 133: Router Solicitations only. */
export function bpfRouterSolicitation(): readonly BpfInstruction[] {
  const ACCEPT = 0x40000;
  return [
    { code: 0x28, jt: 0, jf: 0, k: 12 }, // ldh [12]      ethertype
    { code: 0x15, jt: 0, jf: 5, k: ETHERTYPE_IPV6 }, // jeq IPv6
    { code: 0x30, jt: 0, jf: 0, k: 20 }, // ldb [20]      next header
    { code: 0x15, jt: 0, jf: 3, k: IP_PROTOCOL_ICMPV6 }, // jeq ICMPv6 (no extension headers)
    { code: 0x30, jt: 0, jf: 0, k: 54 }, // ldb [54]      ICMPv6 type
    { code: 0x15, jt: 0, jf: 1, k: ICMPV6_TYPE.routerSolicitation },
    { code: 0x06, jt: 0, jf: 0, k: ACCEPT },
    { code: 0x06, jt: 0, jf: 0, k: 0 },
  ];
}

/** The RA body for these options (`lifetimeS` overridden for the final one). */
export function advertisementOf(
  opts: Pick<RouterAdvertiserOptions, "mac" | "lifetimeS" | "prefix" | "mtu">,
): RouterAdvertisement {
  const p = typeof opts.prefix === "string" ? { cidr: opts.prefix } : opts.prefix;
  const parsed = p ? parseIpv6Prefix(p.cidr) : undefined;
  return {
    curHopLimit: DEFAULT_CUR_HOP_LIMIT,
    managed: false,
    other: false,
    routerLifetimeS: opts.lifetimeS ?? 0,
    reachableTimeMs: 0,
    retransTimerMs: 0,
    sourceLinkLayer: macToBytes(opts.mac),
    ...(opts.mtu !== undefined ? { mtu: opts.mtu } : {}),
    prefixes: p && parsed
      ? [{
        prefix: parsed.prefix,
        length: parsed.length,
        onLink: p.onLink ?? true,
        autonomous: p.autonomous ?? true,
        validLifetimeS: p.validLifetimeS ?? RA_DEFAULTS.validLifetimeS,
        preferredLifetimeS: p.preferredLifetimeS ??
          Math.min(RA_DEFAULTS.preferredLifetimeS, p.validLifetimeS ?? Infinity),
      }]
      : [],
  };
}

/** Frames read per readiness before the reactor serves others. */
const DRAIN_BURST = 64;

/** Sends Router Advertisements on one interface until closed. */
export class RouterAdvertiser {
  readonly ifname: string;
  /** RAs sent (multicast and unicast, the final one included). */
  sent = 0;
  /** RAs sent in answer to a solicitation (at once, or owed and sent when the window ended). */
  solicited = 0;
  /** Valid solicitations heard. */
  solicitations = 0;
  /** Solicitations left to the next multicast RA (inside its window, from :: or past the unicast limit). */
  deferred = 0;
  /** Frames not answered: malformed, not an RS, our own. */
  ignored = 0;
  readonly ignoredBy: Partial<Record<RaIgnore, number>> = {};
  /** RAs the kernel refused (queue full, link down). */
  sendFailures = 0;
  /** The last decode error, for a log line. */
  lastDecodeError: DecodeError | undefined;

  readonly #sock: RawSocket;
  readonly #reg: Registration;
  readonly #schedule: RaSchedule;
  readonly #mac: Uint8Array;
  readonly #src: Uint8Array;
  readonly #ra: RouterAdvertisement;
  readonly #multicastFrame: Uint8Array<ArrayBuffer>;
  readonly #buf = new Uint8Array(2048);
  #owed = false;
  #closed = false;

  private constructor(opts: RouterAdvertiserOptions, sock: RawSocket, reactor: Reactor) {
    this.ifname = opts.ifname;
    this.#sock = sock;
    this.#mac = macToBytes(opts.mac);
    this.#src = opts.source !== undefined ? parseIpv6(opts.source) : linkLocalFromMac(this.#mac);
    this.#ra = advertisementOf(opts);
    this.#multicastFrame = this.#frame(this.#ra, multicastMac(ALL_NODES), ALL_NODES);
    const t = timingsOf(opts);
    this.#schedule = new RaSchedule(t, opts.random ?? Math.random, performance.now());
    this.#reg = reactor.add(sock, {
      ready: () => this.#drain(),
      timeout: () => this.#tick(),
    });
  }

  /** Opens the socket, sends the first RA at once and keeps advertising. */
  static start(opts: RouterAdvertiserOptions): RouterAdvertiser {
    const t = timingsOf(opts);
    const lifetime = opts.lifetimeS ?? 0;
    if (!Number.isInteger(lifetime) || lifetime < 0 || lifetime > 9000) {
      throw new RangeError(`router lifetime ${lifetime} s: 0..9000 (RFC 4861 §6.2.1)`);
    }
    if (lifetime > 0 && lifetime * 1000 < t.maxMs) {
      throw new RangeError(`router lifetime ${lifetime} s is shorter than the RA interval`);
    }
    // Encoding checks every value before any socket is opened.
    advertisementOf(opts);
    if (opts.source !== undefined) parseIpv6(opts.source);
    // Solicitations go to all-routers, a group a host that does not forward
    // never joins: without the membership a real card would drop them.
    const sock = RawSocket.open(opts.ifname, bpfRouterSolicitation(), {
      multicast: [multicastMac(ALL_ROUTERS)],
    });
    let adv: RouterAdvertiser;
    try {
      adv = new RouterAdvertiser(opts, sock, opts.reactor ?? Reactor.shared());
    } catch (e) {
      sock.close();
      throw e;
    }
    adv.#tick();
    return adv;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a last RA with router lifetime 0, then releases the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const last = { ...this.#ra, routerLifetimeS: 0 };
    this.#send(this.#frame(last, multicastMac(ALL_NODES), ALL_NODES));
    this.#reg.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #frame(ra: RouterAdvertisement, ethDst: Uint8Array, dst: Uint8Array): Uint8Array<ArrayBuffer> {
    return encodeRaFrame(ra, { ethSrc: this.#mac, ethDst, src: this.#src, dst }) as Uint8Array<
      ArrayBuffer
    >;
  }

  #send(frame: Uint8Array<ArrayBuffer>): boolean {
    let ok = false;
    try {
      ok = this.#sock.send(frame);
    } catch { /* the link went away: counted like a full queue */ }
    if (ok) this.sent++;
    else this.sendFailures++;
    return ok;
  }

  #ignore(reason: RaIgnore): void {
    this.ignored++;
    this.ignoredBy[reason] = (this.ignoredBy[reason] ?? 0) + 1;
  }

  /** Sends the multicast RA when it is due, and sets the next deadline. */
  #tick(): void {
    if (this.#closed) return;
    const now = performance.now();
    if (this.#schedule.due(now)) {
      if (this.#send(this.#multicastFrame) && this.#owed) this.solicited++;
      this.#owed = false;
      this.#schedule.sentMulticast(now);
    }
    this.#reg.deadline = this.#schedule.deadline;
  }

  #drain(): void {
    for (let i = 0; i < DRAIN_BURST && !this.#closed; i++) {
      const n = this.#sock.recvInto(this.#buf);
      if (n < 0) return;
      this.#heard(this.#buf.subarray(0, n));
    }
  }

  #heard(frame: Uint8Array): void {
    let d;
    try {
      d = decodeRsFrame(frame);
    } catch (e) {
      this.lastDecodeError = e as DecodeError;
      return this.#ignore("malformed");
    }
    if (d.kind === "ignore") return this.#ignore(d.reason);
    const rs = d.rs;
    if (rs.ethSrc.every((b, i) => b === this.#mac[i])) return this.#ignore("own");
    this.solicitations++;
    this.#answer(rs);
  }

  #answer(rs: RouterSolicitation): void {
    const now = performance.now();
    const answer = this.#schedule.solicited(now, rs.src.every((b) => b === 0));
    if (answer === "multicast") {
      if (this.#send(this.#multicastFrame)) this.solicited++;
      this.#owed = false;
      this.#schedule.sentMulticast(now);
    } else if (answer === "unicast") {
      if (this.#send(this.#frame(this.#ra, rs.sourceLinkLayer ?? rs.ethSrc, rs.src))) {
        this.solicited++;
      }
    } else {
      this.#owed = true;
      this.deferred++;
    }
    this.#reg.deadline = this.#schedule.deadline;
  }
}

function timingsOf(opts: RouterAdvertiserOptions): RaTimings {
  const iv = opts.intervalMs ?? RA_DEFAULTS.intervalMs;
  if (!(iv.min > 0 && iv.min <= iv.max)) {
    throw new RangeError(`RA interval ${iv.min}..${iv.max} ms: need 0 < min <= max`);
  }
  return {
    minMs: iv.min,
    maxMs: iv.max,
    initialIntervalMs: opts.initialIntervalMs ?? RA_DEFAULTS.initialIntervalMs,
    initialCount: RA_DEFAULTS.initialCount,
    minDelayMs: opts.minDelayMs ?? RA_DEFAULTS.minDelayMs,
    unicastBurst: RA_DEFAULTS.unicastBurst,
    unicastPerSecond: RA_DEFAULTS.unicastPerSecond,
  };
}
