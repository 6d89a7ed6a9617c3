/**
 * @module
 * The existing-DHCP probe, pure part: the DISCOVER mesh broadcasts to learn
 * whether another DHCP server serves a segment, what an answer means, and a
 * summary of who answered. The probe never sends a REQUEST, so no server
 * ever binds a lease to it (RFC 2131 §4.3.1: an OFFER only reserves, and
 * servers reuse the reservation for the same chaddr / client id). It sends
 * no options 60/93 either: it is not a PXE client, so a proxyDHCP server
 * (which answers only PXEClient DISCOVERs) stays silent and cannot be
 * mistaken for an address server. I/O is in dhcp_probe_shell.ts.
 */
import { DecodeError } from "../errors.ts";
import { type Cidr, formatMac, macToBytes, prefixMask } from "../wire/mod.ts";
import { FLAG_BROADCAST, HTYPE_ETHERNET, MessageType, Op, Opt } from "./constants.ts";
import {
  getDnsServers,
  getLeaseTime,
  getMessageType,
  getRouters,
  getServerId,
  getVendorClass,
  u8Value,
} from "./option_values.ts";
import { chaddrFromMac, clientMac, decodePacket, type DhcpPacket } from "./packet.ts";

/** Why a received packet is not an offer to the probe. */
export const ProbeIgnore = {
  /** The DHCP payload did not decode (truncated, bad cookie, bad option lengths). */
  Malformed: "malformed",
  /** A BOOTREQUEST: another client's message, not a server's. */
  NotReply: "not-reply",
  /** A BOOTREPLY without option 53: plain BOOTP, which cannot offer a lease to a DHCP client. */
  NoMessageType: "no-message-type",
  /** ACK, NAK, ...: part of someone else's exchange (the probe never REQUESTs). */
  NotOffer: "not-offer",
  WrongXid: "wrong-xid",
  /** chaddr is not the probe MAC (or not an Ethernet address at all). */
  WrongChaddr: "wrong-chaddr",
  /** Option 1 present but not 4 bytes, not contiguous (255.0.255.0), or 0.0.0.0. */
  BadMask: "bad-mask",
  /** yiaddr 0.0.0.0 without option 60 "PXEClient": offers nothing at all. */
  NoAddress: "no-address",
  /** yiaddr that no host can hold: 0/8, loopback, multicast, or its subnet's network/broadcast. */
  BadAddress: "bad-address",
  /** Neither option 54 nor an IP source address says who the server is. */
  NoServerId: "no-server-id",
} as const;
export type ProbeIgnoreReason = typeof ProbeIgnore[keyof typeof ProbeIgnore];

/** One acceptable DHCPOFFER to the probe. Addresses are unsigned 32-bit numbers. */
export interface ProbeOffer {
  /** Option 54, else the IP source of the frame. */
  readonly serverId: number;
  /** Ethernet source of the frame (a relay's MAC when the offer was relayed). */
  readonly serverMac: string;
  /** 0 for a proxyDHCP offer. */
  readonly yiaddr: number;
  /** yiaddr's network from option 1; null for a proxy offer. */
  readonly subnet: Cidr | null;
  /** True when the offer had no option 1 and `subnet` is the classful guess. */
  readonly maskAssumed: boolean;
  /** Option 3, empty when absent. */
  readonly routers: readonly number[];
  /** Option 6, empty when absent. */
  readonly dns: readonly number[];
  /** Option 51 in seconds, null when absent (0xffffffff is "infinite"). */
  readonly leaseTime: number | null;
  /** yiaddr 0.0.0.0 with option 60 "PXEClient": a proxyDHCP server, not an address server. */
  readonly proxy: boolean;
}

/** Where a packet came from, as the frame says. */
export interface ProbeFrame {
  readonly srcMac: string;
  readonly srcIp: number;
}

/** What the probe sent: replies must echo both. */
export interface ProbeExpect {
  readonly xid: number;
  readonly mac: string;
}

export type ProbeReading = ProbeOffer | { readonly ignore: ProbeIgnoreReason };

/** Options the probe asks for (option 55): enough to describe the subnet a server hands out. */
export const PROBE_PARAMETERS: readonly number[] = [
  Opt.SubnetMask,
  Opt.Router,
  Opt.DomainNameServer,
  Opt.DomainName,
  Opt.IpAddressLeaseTime,
  Opt.ServerIdentifier,
];

/**
 * The probe's MAC for an interface: the interface MAC made locally
 * administered (0x02 set) and unicast (0x01 clear), with bit 0x04 of the
 * first octet flipped so it differs from the interface MAC even when that
 * one is locally administered already (QEMU's 52:54:00:…). Deterministic,
 * so repeated probes reuse one reservation in a server's pool instead of
 * taking a new address each time, and the rest of the MAC still tells which
 * port probed (52:54:00:12:34:56 → 56:54:00:12:34:56).
 */
export function probeMac(interfaceMac: string): string {
  const b = macToBytes(interfaceMac);
  b[0] = ((b[0]! | 0x02) & ~0x01) ^ 0x04;
  return formatMac(b);
}

/**
 * The probe's DHCPDISCOVER. The broadcast flag is set because the probe MAC
 * is not the interface's: a unicast offer to it may be filtered by the NIC,
 * a broadcast one never is. `secs` counts up across retransmissions, as a
 * real client's would (some servers wait for it before answering).
 */
export function probeDiscover(mac: string, xid: number, secs = 0): DhcpPacket {
  const clientId = new Uint8Array(7);
  clientId[0] = HTYPE_ETHERNET; // RFC 2132 §9.14: type 1 followed by the MAC
  clientId.set(macToBytes(mac), 1);
  const options = new Map<number, Uint8Array>([
    [Opt.MessageType, u8Value(MessageType.Discover)],
    [Opt.ClientIdentifier, clientId],
    [Opt.ParameterRequestList, Uint8Array.from(PROBE_PARAMETERS)],
  ]);
  return {
    op: Op.BootRequest,
    htype: HTYPE_ETHERNET,
    hlen: 6,
    hops: 0,
    xid: xid >>> 0,
    secs: Math.min(Math.max(0, Math.floor(secs)), 0xffff),
    flags: FLAG_BROADCAST,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: chaddrFromMac(mac),
    sname: "",
    file: "",
    options,
  };
}

/** Decodes a UDP payload and reads it; a DecodeError is the "malformed" ignore. */
export function readOfferBytes(
  payload: Uint8Array,
  frame: ProbeFrame,
  expect: ProbeExpect,
): ProbeReading {
  let pkt: DhcpPacket;
  try {
    pkt = decodePacket(payload);
  } catch (e) {
    if (e instanceof DecodeError) return { ignore: ProbeIgnore.Malformed };
    throw e;
  }
  return readOffer(pkt, frame, expect);
}

/** Judges one decoded packet heard on port 68. Never throws on any packet. */
export function readOffer(pkt: DhcpPacket, frame: ProbeFrame, expect: ProbeExpect): ProbeReading {
  if (pkt.op !== Op.BootReply) return { ignore: ProbeIgnore.NotReply };
  const type = getMessageType(pkt.options);
  if (type === undefined) return { ignore: ProbeIgnore.NoMessageType };
  if (type !== MessageType.Offer) return { ignore: ProbeIgnore.NotOffer };
  if (pkt.xid >>> 0 !== expect.xid >>> 0) return { ignore: ProbeIgnore.WrongXid };
  if (
    pkt.htype !== HTYPE_ETHERNET || pkt.hlen !== 6 || pkt.chaddr.length < 6 ||
    clientMac(pkt) !== expect.mac.toLowerCase()
  ) {
    return { ignore: ProbeIgnore.WrongChaddr };
  }
  const serverId = getServerId(pkt.options) || frame.srcIp >>> 0;
  if (serverId === 0) return { ignore: ProbeIgnore.NoServerId };
  const routers = getRouters(pkt.options) ?? [];
  const dns = getDnsServers(pkt.options) ?? [];
  const leaseTime = getLeaseTime(pkt.options) ?? null;
  const yiaddr = pkt.yiaddr >>> 0;
  const base = { serverId, serverMac: frame.srcMac.toLowerCase(), routers, dns, leaseTime };

  if (yiaddr === 0) {
    // RFC-wise an OFFER must carry an address; PXE proxyDHCP is the one
    // sanctioned exception, recognised by the server's option 60.
    if (!(getVendorClass(pkt.options) ?? "").startsWith("PXEClient")) {
      return { ignore: ProbeIgnore.NoAddress };
    }
    return { ...base, yiaddr, subnet: null, maskAssumed: false, proxy: true };
  }
  if (!isHostAddress(yiaddr)) return { ignore: ProbeIgnore.BadAddress };
  const maskBytes = pkt.options.get(Opt.SubnetMask);
  let prefix: number;
  if (maskBytes === undefined) prefix = classfulPrefix(yiaddr);
  else {
    const p = maskBytes.length === 4 ? maskPrefix(maskBytes) : null;
    if (p === null) return { ignore: ProbeIgnore.BadMask };
    prefix = p;
  }
  const subnet = { network: (yiaddr & prefixMask(prefix)) >>> 0, prefix };
  // A /31 or /32 has no network or broadcast address (RFC 3021).
  if (prefix <= 30) {
    const broadcast = (subnet.network | ~prefixMask(prefix)) >>> 0;
    if (yiaddr === subnet.network || yiaddr === broadcast) {
      return { ignore: ProbeIgnore.BadAddress };
    }
  }
  return { ...base, yiaddr, subnet, maskAssumed: maskBytes === undefined, proxy: false };
}

/** Prefix length of a contiguous, non-zero mask; null for 255.0.255.0 or 0.0.0.0. */
function maskPrefix(b: Uint8Array): number | null {
  const mask = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  const host = ~mask >>> 0;
  // Contiguous: the host part is 2^k - 1.
  if (mask === 0 || ((host & (host + 1)) >>> 0) !== 0) return null;
  let prefix = 0;
  for (let m = mask; m & 0x80000000; m = (m << 1) >>> 0) prefix++;
  return prefix;
}

/**
 * The pre-CIDR default mask (RFC 791 classes A/B/C): the only guess a
 * client without option 1 has. Flagged as assumed wherever it is shown.
 */
function classfulPrefix(ip: number): number {
  const first = ip >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

/** Not 0/8 ("this network"), 127/8 (loopback) or 224/3 (multicast, reserved, broadcast). */
function isHostAddress(ip: number): boolean {
  const first = ip >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

/** One server that answered, with everything it offered. */
export interface ProbeServer {
  readonly serverId: number;
  readonly serverMac: string;
  /** Every offer from it was a proxyDHCP offer. */
  readonly proxy: boolean;
  /** Distinct yiaddrs offered (none for a proxy). */
  readonly offered: readonly number[];
  /** Distinct subnets offered. */
  readonly subnets: readonly Cidr[];
  /** Some subnet is a classful guess (an offer without option 1). */
  readonly maskAssumed: boolean;
  readonly routers: readonly number[];
  readonly dns: readonly number[];
  /** Lease time of its first offer that named one. */
  readonly leaseTime: number | null;
  /** Offers heard from it (one per DISCOVER it answered). */
  readonly offers: number;
}

export interface ProbeSummary {
  /** At least one address server (not a proxy) answered. */
  readonly found: boolean;
  /** By (serverId, serverMac), in the order first heard. */
  readonly servers: readonly ProbeServer[];
  /** Every subnet an address server offered, distinct: what mesh must not plan over. */
  readonly subnets: readonly Cidr[];
}

/** A ProbeServer being filled in. */
type ServerAcc = {
  -readonly [K in keyof ProbeServer]: ProbeServer[K] extends readonly (infer T)[] ? T[]
    : ProbeServer[K];
};

/** Groups offers into servers. */
export function summarize(offers: readonly ProbeOffer[]): ProbeSummary {
  const byKey = new Map<string, ServerAcc>();
  const subnets: Cidr[] = [];
  for (const o of offers) {
    const key = `${o.serverId} ${o.serverMac}`;
    let s = byKey.get(key);
    if (s === undefined) {
      s = {
        serverId: o.serverId,
        serverMac: o.serverMac,
        proxy: true,
        offered: [],
        subnets: [],
        maskAssumed: false,
        routers: [],
        dns: [],
        leaseTime: null,
        offers: 0,
      };
      byKey.set(key, s);
    }
    s.offers++;
    s.proxy &&= o.proxy;
    s.maskAssumed ||= o.maskAssumed;
    s.leaseTime ??= o.leaseTime;
    if (o.yiaddr !== 0) addDistinct(s.offered, o.yiaddr);
    for (const r of o.routers) addDistinct(s.routers, r);
    for (const d of o.dns) addDistinct(s.dns, d);
    if (o.subnet !== null) {
      addCidr(s.subnets, o.subnet);
      if (!o.proxy) addCidr(subnets, o.subnet);
    }
  }
  return {
    found: offers.some((o) => !o.proxy),
    servers: [...byKey.values()],
    subnets,
  };
}

function addDistinct(list: number[], v: number): void {
  if (!list.includes(v)) list.push(v);
}

function addCidr(list: Cidr[], c: Cidr): void {
  if (!list.some((x) => x.network === c.network && x.prefix === c.prefix)) list.push(c);
}
