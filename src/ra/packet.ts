/**
 * @module
 * IPv6 Router Advertisements and Router Solicitations (RFC 4861 §4.1, §4.2,
 * §4.6) in whole Ethernet frames, for a raw socket. Pure.
 *
 * ```
 * eth dst(6) src(6) type 0x86dd
 * ipv6 ver/tc/flow(4) payload length(2) next header 58 | hop limit 255 | src(16) dst(16)
 * RS: type 133 | code 0 | checksum | reserved(4)                      | options
 * RA: type 134 | code 0 | checksum | cur hop limit | M O | router lifetime(2)
 *     reachable time(4) retrans timer(4)                              | options
 * options: type(1) length(1, in 8-byte units) value
 *   1 source link-layer address (6)   5 MTU (2 reserved, 4)
 *   3 prefix information: prefix length, L A flags, valid(4), preferred(4), reserved(4), prefix(16)
 * ```
 *
 * The ICMPv6 checksum covers the IPv6 pseudo-header (source, destination,
 * upper-layer length, next header). Options go in the order dnsmasq sends
 * them (prefix, MTU, source link-layer address), so an RA with dnsmasq's
 * values is byte-for-byte the ICMPv6 message dnsmasq sends.
 */
import { DecodeError } from "../errors.ts";
import {
  finishChecksum,
  ipv6Bytes,
  isLinkLocal,
  isUnspecified,
  maskPrefix,
  multicastMac,
  onesSum,
} from "../wire/mod.ts";
// The address helpers are in src/wire; this module's door re-exports them.
export {
  formatIpv6,
  linkLocalFromMac,
  multicastMac,
  parseIpv6,
  parseIpv6Prefix,
} from "../wire/mod.ts";

export const ETHERTYPE_IPV6 = 0x86dd;
export const IP_PROTOCOL_ICMPV6 = 58;
export const ICMPV6_TYPE = { routerSolicitation: 133, routerAdvertisement: 134 } as const;
export const ND_OPTION = { sourceLinkLayer: 1, prefixInformation: 3, mtu: 5 } as const;
/** RFC 4861 §6.1: NDP messages arrive with this hop limit or were forwarded. */
export const ND_HOP_LIMIT = 255;
/** AdvCurHopLimit suggested to hosts (the IANA default TTL). */
export const DEFAULT_CUR_HOP_LIMIT = 64;
const ETH = 14;
const IPV6 = 40;
const RS_MIN = 8;
const RA_MIN = 16;
/** The lifetime that means "forever" (prefix lifetimes). */
export const INFINITE_LIFETIME = 0xffffffff;

/** One Prefix Information option. */
export interface PrefixInfo {
  /** 16 bytes; bits past `length` are sent as zero. */
  readonly prefix: Uint8Array;
  readonly length: number;
  /** L: the prefix is on-link. */
  readonly onLink: boolean;
  /** A: hosts may form addresses from it (SLAAC). */
  readonly autonomous: boolean;
  readonly validLifetimeS: number;
  readonly preferredLifetimeS: number;
}

/** The ICMPv6 body of a Router Advertisement. */
export interface RouterAdvertisement {
  readonly curHopLimit: number;
  /** M: addresses from DHCPv6. */
  readonly managed: boolean;
  /** O: other configuration from DHCPv6. */
  readonly other: boolean;
  /** Seconds hosts may use us as a default router; 0: we are not one. */
  readonly routerLifetimeS: number;
  readonly reachableTimeMs: number;
  readonly retransTimerMs: number;
  readonly sourceLinkLayer?: Uint8Array;
  readonly mtu?: number;
  readonly prefixes: readonly PrefixInfo[];
}

/** A Router Solicitation with the addresses of its frame. */
export interface RouterSolicitation {
  readonly ethSrc: Uint8Array;
  readonly ethDst: Uint8Array;
  /** IPv6 source; all zeros for a host without an address yet. */
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly sourceLinkLayer?: Uint8Array;
}

/** Addresses of a frame we send. */
export interface Ipv6Addresses {
  readonly ethSrc: Uint8Array;
  readonly ethDst: Uint8Array;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

export type RsIgnore = "not-ipv6" | "not-icmpv6" | "not-rs";
export type RsDecoded =
  | { readonly kind: "rs"; readonly rs: RouterSolicitation }
  | { readonly kind: "ignore"; readonly reason: RsIgnore };

// ---------------------------------------------------------------------------
// Addresses

/** ff02::1, all nodes on the link. */
export const ALL_NODES: Uint8Array = ipv6Bytes([0xff02, 0, 0, 0, 0, 0, 0, 1]);
/** ff02::2, all routers on the link. */
export const ALL_ROUTERS: Uint8Array = ipv6Bytes([0xff02, 0, 0, 0, 0, 0, 0, 2]);

// ---------------------------------------------------------------------------
// Checksum

/** The ICMPv6 checksum of `icmp` (its checksum field taken as is) between `src` and `dst`. */
export function icmpv6Checksum(src: Uint8Array, dst: Uint8Array, icmp: Uint8Array): number {
  let sum = onesSum(src) + onesSum(dst) + Math.floor(icmp.length / 0x10000) +
    (icmp.length & 0xffff) + IP_PROTOCOL_ICMPV6;
  sum = onesSum(icmp, 0, icmp.length, sum);
  return finishChecksum(sum);
}

// ---------------------------------------------------------------------------
// Encoding

/** Wraps an ICMPv6 message in IPv6 (hop limit 255) and Ethernet, filling in its checksum. */
function frameOf(a: Ipv6Addresses, icmp: Uint8Array): Uint8Array {
  const f = new Uint8Array(ETH + IPV6 + icmp.length);
  f.set(a.ethDst.subarray(0, 6), 0);
  f.set(a.ethSrc.subarray(0, 6), 6);
  f[12] = ETHERTYPE_IPV6 >>> 8;
  f[13] = ETHERTYPE_IPV6 & 0xff;
  f[14] = 0x60; // version 6, traffic class 0, flow label 0
  f[18] = icmp.length >>> 8;
  f[19] = icmp.length & 0xff;
  f[20] = IP_PROTOCOL_ICMPV6;
  f[21] = ND_HOP_LIMIT;
  f.set(a.src.subarray(0, 16), 22);
  f.set(a.dst.subarray(0, 16), 38);
  icmp[2] = 0;
  icmp[3] = 0;
  const sum = icmpv6Checksum(a.src, a.dst, icmp);
  icmp[2] = sum >>> 8;
  icmp[3] = sum & 0xff;
  f.set(icmp, ETH + IPV6);
  return f;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 255;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

function get32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function checkField(ok: boolean, what: string, value: number): void {
  if (!ok) throw new RangeError(`Router Advertisement ${what} out of range: ${value}`);
}

/** The ICMPv6 message of an RA (checksum zero). Throws RangeError for values that do not fit. */
export function encodeRa(ra: RouterAdvertisement): Uint8Array {
  const u32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  checkField(
    Number.isInteger(ra.curHopLimit) && ra.curHopLimit >= 0 && ra.curHopLimit < 256,
    "cur hop limit",
    ra.curHopLimit,
  );
  checkField(
    Number.isInteger(ra.routerLifetimeS) && ra.routerLifetimeS >= 0 &&
      ra.routerLifetimeS <= 0xffff,
    "router lifetime",
    ra.routerLifetimeS,
  );
  checkField(u32(ra.reachableTimeMs), "reachable time", ra.reachableTimeMs);
  checkField(u32(ra.retransTimerMs), "retrans timer", ra.retransTimerMs);
  if (ra.mtu !== undefined) checkField(u32(ra.mtu) && ra.mtu >= 1280, "MTU", ra.mtu);
  const b = new Uint8Array(
    RA_MIN + 32 * ra.prefixes.length + (ra.mtu !== undefined ? 8 : 0) +
      (ra.sourceLinkLayer ? 8 : 0),
  );
  b[0] = ICMPV6_TYPE.routerAdvertisement;
  b[4] = ra.curHopLimit;
  b[5] = (ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0);
  b[6] = ra.routerLifetimeS >>> 8;
  b[7] = ra.routerLifetimeS & 0xff;
  put32(b, 8, ra.reachableTimeMs);
  put32(b, 12, ra.retransTimerMs);
  let o = RA_MIN;
  for (const p of ra.prefixes) {
    checkField(
      Number.isInteger(p.length) && p.length >= 0 && p.length <= 128,
      "prefix length",
      p.length,
    );
    checkField(u32(p.validLifetimeS), "valid lifetime", p.validLifetimeS);
    checkField(
      u32(p.preferredLifetimeS) && p.preferredLifetimeS <= p.validLifetimeS,
      "preferred lifetime",
      p.preferredLifetimeS,
    );
    b[o] = ND_OPTION.prefixInformation;
    b[o + 1] = 4;
    b[o + 2] = p.length;
    b[o + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0);
    put32(b, o + 4, p.validLifetimeS);
    put32(b, o + 8, p.preferredLifetimeS);
    b.set(maskPrefix(p.prefix, p.length), o + 16);
    o += 32;
  }
  if (ra.mtu !== undefined) {
    b[o] = ND_OPTION.mtu;
    b[o + 1] = 1;
    put32(b, o + 4, ra.mtu);
    o += 8;
  }
  if (ra.sourceLinkLayer) {
    b[o] = ND_OPTION.sourceLinkLayer;
    b[o + 1] = 1;
    b.set(ra.sourceLinkLayer.subarray(0, 6), o + 2);
  }
  return b;
}

/** A whole Ethernet frame carrying `ra` (hop limit 255, ICMPv6 checksum filled in). */
export function encodeRaFrame(ra: RouterAdvertisement, a: Ipv6Addresses): Uint8Array {
  return frameOf(a, encodeRa(ra));
}

/** A Router Solicitation frame (to ff02::2), with a source link-layer option unless unspecified. */
export function encodeRsFrame(
  ethSrc: Uint8Array,
  src: Uint8Array,
  sourceLinkLayer = !isUnspecified(src),
): Uint8Array {
  const icmp = new Uint8Array(RS_MIN + (sourceLinkLayer ? 8 : 0));
  icmp[0] = ICMPV6_TYPE.routerSolicitation;
  if (sourceLinkLayer) {
    icmp[8] = ND_OPTION.sourceLinkLayer;
    icmp[9] = 1;
    icmp.set(ethSrc.subarray(0, 6), 10);
  }
  return frameOf({ ethSrc, ethDst: multicastMac(ALL_ROUTERS), src, dst: ALL_ROUTERS }, icmp);
}

// ---------------------------------------------------------------------------
// Decoding

interface Envelope {
  readonly ethDst: Uint8Array;
  readonly ethSrc: Uint8Array;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly icmp: Uint8Array;
}

type EnvelopeResult = Envelope | "not-ipv6" | "not-icmpv6";

/** Ethernet + IPv6 + ICMPv6 with the NDP checks every message shares (RFC 4861 §6.1). */
function envelope(frame: Uint8Array, minIcmp: number): EnvelopeResult {
  if (frame.length < ETH) throw new DecodeError("ethernet header", 0, "truncated");
  if (((frame[12]! << 8) | frame[13]!) !== ETHERTYPE_IPV6) return "not-ipv6";
  if (frame.length < ETH + IPV6) throw new DecodeError("ipv6 header", ETH, "truncated");
  if (frame[ETH]! >>> 4 !== 6) throw new DecodeError("ipv6 version", ETH, `${frame[ETH]! >>> 4}`);
  if (frame[ETH + 6] !== IP_PROTOCOL_ICMPV6) return "not-icmpv6";
  const plen = (frame[ETH + 4]! << 8) | frame[ETH + 5]!;
  if (ETH + IPV6 + plen > frame.length) {
    throw new DecodeError("ipv6 payload length", ETH + 4, `${plen} > ${frame.length - ETH - IPV6}`);
  }
  if (plen < minIcmp) throw new DecodeError("icmpv6 length", ETH + IPV6, `${plen} < ${minIcmp}`);
  const e: Envelope = {
    ethDst: frame.slice(0, 6),
    ethSrc: frame.slice(6, 12),
    src: frame.slice(ETH + 8, ETH + 24),
    dst: frame.slice(ETH + 24, ETH + 40),
    // Bytes past the payload length are Ethernet padding.
    icmp: frame.subarray(ETH + IPV6, ETH + IPV6 + plen),
  };
  return e;
}

/** Checks what every NDP message must satisfy past its type: hop limit, checksum, code. */
function validate(frame: Uint8Array, e: Envelope): void {
  const at = ETH + IPV6;
  if (frame[ETH + 7] !== ND_HOP_LIMIT) {
    throw new DecodeError("ipv6 hop limit", ETH + 7, `${frame[ETH + 7]} (must be 255)`);
  }
  if (icmpv6Checksum(e.src, e.dst, e.icmp) !== 0) {
    throw new DecodeError("icmpv6 checksum", at + 2, "mismatch");
  }
  if (e.icmp[1] !== 0) throw new DecodeError("icmpv6 code", at + 1, `${e.icmp[1]} (must be 0)`);
}

interface RawOption {
  readonly type: number;
  readonly value: Uint8Array;
  readonly offset: number;
}

/** The options from `start` on; every one must have a non-zero length that fits. */
function options(icmp: Uint8Array, start: number): RawOption[] {
  const out: RawOption[] = [];
  for (let o = start; o < icmp.length;) {
    if (o + 2 > icmp.length) throw new DecodeError("nd option", ETH + IPV6 + o, "truncated");
    const len = icmp[o + 1]! * 8;
    if (len === 0) throw new DecodeError("nd option length", ETH + IPV6 + o + 1, "zero");
    if (o + len > icmp.length) {
      throw new DecodeError("nd option length", ETH + IPV6 + o + 1, `${len} past the end`);
    }
    out.push({ type: icmp[o]!, value: icmp.subarray(o + 2, o + len), offset: ETH + IPV6 + o });
    o += len;
  }
  return out;
}

function sourceLinkLayerOf(opts: readonly RawOption[]): Uint8Array | undefined {
  const sll = opts.find((o) => o.type === ND_OPTION.sourceLinkLayer);
  return sll ? sll.value.slice(0, 6) : undefined;
}

/**
 * Decodes a Router Solicitation (RFC 4861 §6.1.1). Frames of other kinds are
 * an ignore; an RS that fails validation (truncated, hop limit not 255, bad
 * checksum, code not 0, an option of length 0, a link-layer option from the
 * unspecified address) is a DecodeError.
 */
export function decodeRsFrame(frame: Uint8Array): RsDecoded {
  const e = envelope(frame, 1);
  if (typeof e === "string") return { kind: "ignore", reason: e };
  if (e.icmp[0] !== ICMPV6_TYPE.routerSolicitation) return { kind: "ignore", reason: "not-rs" };
  if (e.icmp.length < RS_MIN) {
    throw new DecodeError("router solicitation", ETH + IPV6, `${e.icmp.length} bytes < 8`);
  }
  validate(frame, e);
  const opts = options(e.icmp, RS_MIN);
  const sll = sourceLinkLayerOf(opts);
  if (sll && isUnspecified(e.src)) {
    throw new DecodeError("source link-layer option", ETH + IPV6 + RS_MIN, "from ::");
  }
  const rs: RouterSolicitation = {
    ethSrc: e.ethSrc,
    ethDst: e.ethDst,
    src: e.src,
    dst: e.dst,
    ...(sll ? { sourceLinkLayer: sll } : {}),
  };
  return { kind: "rs", rs };
}

/**
 * Decodes a Router Advertisement (RFC 4861 §6.1.2: link-local source, hop
 * limit 255, checksum, code 0, options well formed). Null for any other
 * frame. For tests and tools: mesh only sends RAs.
 */
export function decodeRaFrame(
  frame: Uint8Array,
): { readonly addresses: Ipv6Addresses; readonly ra: RouterAdvertisement } | null {
  const e = envelope(frame, 1);
  if (typeof e === "string" || e.icmp[0] !== ICMPV6_TYPE.routerAdvertisement) return null;
  if (e.icmp.length < RA_MIN) {
    throw new DecodeError("router advertisement", ETH + IPV6, `${e.icmp.length} bytes < 16`);
  }
  validate(frame, e);
  if (!isLinkLocal(e.src)) throw new DecodeError("ipv6 source", ETH + 8, "not link-local");
  const b = e.icmp;
  const opts = options(b, RA_MIN);
  const prefixes: PrefixInfo[] = [];
  let mtu: number | undefined;
  for (const o of opts) {
    if (o.type === ND_OPTION.mtu) {
      if (o.value.length !== 6) throw new DecodeError("mtu option", o.offset, "length");
      mtu = get32(o.value, 2);
    } else if (o.type === ND_OPTION.prefixInformation) {
      if (o.value.length !== 30) throw new DecodeError("prefix option", o.offset, "length");
      const v = o.value;
      if (v[0]! > 128) throw new DecodeError("prefix length", o.offset + 2, `${v[0]}`);
      prefixes.push({
        length: v[0]!,
        onLink: (v[1]! & 0x80) !== 0,
        autonomous: (v[1]! & 0x40) !== 0,
        validLifetimeS: get32(v, 2),
        preferredLifetimeS: get32(v, 6),
        prefix: v.slice(14, 30),
      });
    }
  }
  const sll = sourceLinkLayerOf(opts);
  const ra: RouterAdvertisement = {
    curHopLimit: b[4]!,
    managed: (b[5]! & 0x80) !== 0,
    other: (b[5]! & 0x40) !== 0,
    routerLifetimeS: (b[6]! << 8) | b[7]!,
    reachableTimeMs: get32(b, 8),
    retransTimerMs: get32(b, 12),
    ...(sll ? { sourceLinkLayer: sll } : {}),
    ...(mtu !== undefined ? { mtu } : {}),
    prefixes,
  };
  return { addresses: { ethDst: e.ethDst, ethSrc: e.ethSrc, src: e.src, dst: e.dst }, ra };
}
