/**
 * @module
 * rtnetlink (NETLINK_ROUTE) codec, pure: the requests mesh sends (dumps of
 * links and IPv4 addresses, adding and deleting an address) and the replies
 * and notifications it reads. Names follow the kernel headers
 * (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
 *
 * Headers and attribute lengths are in the host's byte order; IPv4 addresses
 * inside attributes are in network order. Every field is bounds-checked
 * before it is read: a truncated or malformed message is a DecodeError, never
 * a read past its end (or into the next message).
 */
import { DecodeError } from "../errors.ts";
import { formatMac, ipv4FromBytes, ipv4ToBytes, prefixMask } from "../wire/mod.ts";

/** Netlink speaks the host's byte order (little-endian on every target mesh runs on). */
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** linux/netlink.h */
export const NETLINK = {
  NLMSG_NOOP: 1,
  NLMSG_ERROR: 2,
  NLMSG_DONE: 3,
  NLMSG_OVERRUN: 4,
  NLM_F_REQUEST: 0x1,
  NLM_F_MULTI: 0x2,
  NLM_F_ACK: 0x4,
  /** A dump was interrupted by a change: its result may be inconsistent. */
  NLM_F_DUMP_INTR: 0x10,
  NLM_F_DUMP: 0x300,
  NLM_F_EXCL: 0x200,
  NLM_F_CREATE: 0x400,
  /** On NLMSG_ERROR: only the request's header is echoed (NETLINK_CAP_ACK). */
  NLM_F_CAPPED: 0x100,
  /** On NLMSG_ERROR: extended-ack attributes follow (NETLINK_EXT_ACK). */
  NLM_F_ACK_TLVS: 0x200,
  NLMSGERR_ATTR_MSG: 1,
  NLMSG_HDRLEN: 16,
  /** NLA_F_NESTED | NLA_F_NET_BYTEORDER, masked off an attribute's type. */
  NLA_TYPE_MASK: 0x3fff,
} as const;

/** linux/rtnetlink.h, if_link.h, if_addr.h, if.h, if_arp.h */
export const RTNL = {
  AF_UNSPEC: 0,
  AF_INET: 2,
  RTM_NEWLINK: 16,
  RTM_DELLINK: 17,
  RTM_GETLINK: 18,
  RTM_NEWADDR: 20,
  RTM_DELADDR: 21,
  RTM_GETADDR: 22,
  RTMGRP_LINK: 0x1,
  RTMGRP_IPV4_IFADDR: 0x10,
  IFLA_ADDRESS: 1,
  IFLA_IFNAME: 3,
  IFLA_MTU: 4,
  IFLA_MASTER: 10,
  IFLA_OPERSTATE: 16,
  IFLA_LINKINFO: 18,
  IFLA_EXT_MASK: 29,
  IFLA_CARRIER: 33,
  IFLA_INFO_KIND: 1,
  /** IFLA_EXT_MASK bit: leave out the counters (most of a link message's size). */
  RTEXT_FILTER_SKIP_STATS: 1 << 3,
  IFA_ADDRESS: 1,
  IFA_LOCAL: 2,
  IFA_LABEL: 3,
  IFA_BROADCAST: 4,
  IFA_FLAGS: 8,
  RT_SCOPE_UNIVERSE: 0,
  IFF_UP: 0x1,
  IFF_LOOPBACK: 0x8,
  IFF_LOWER_UP: 0x10000,
  ARPHRD_ETHER: 1,
  ARPHRD_LOOPBACK: 772,
  ARPHRD_NONE: 0xfffe,
} as const;

/** IF_OPER_* (RFC 2863 operational status), as `ip link` spells them. */
const OPERSTATE: readonly string[] = [
  "unknown",
  "notpresent",
  "down",
  "lowerlayerdown",
  "testing",
  "dormant",
  "up",
];

const IFINFOMSG_LEN = 16;
const IFADDRMSG_LEN = 8;

/** One netlink message; `payload` is a view of the bytes after its header. */
export interface NlMessage {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly payload: Uint8Array;
}

export interface RtAttr {
  /** Type with NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off. */
  readonly type: number;
  readonly value: Uint8Array;
}

/** An RTM_NEWLINK / RTM_DELLINK message (ifinfomsg and its attributes). */
export interface RtLink {
  readonly family: number;
  /** ARPHRD_* */
  readonly type: number;
  readonly ifindex: number;
  /** IFF_* */
  readonly flags: number;
  readonly name: string;
  readonly address: Uint8Array | null;
  readonly mtu: number | null;
  /** IF_OPER_* */
  readonly operstate: number | null;
  readonly carrier: boolean | null;
  readonly master: number | null;
  /** IFLA_INFO_KIND inside IFLA_LINKINFO ("veth", "bridge", ...). */
  readonly kind: string | null;
}

/** An RTM_NEWADDR / RTM_DELADDR message (ifaddrmsg and its attributes). */
export interface RtAddr {
  readonly family: number;
  readonly prefix: number;
  /** IFA_F_*, from IFA_FLAGS when present (ifa_flags holds only 8 bits). */
  readonly flags: number;
  readonly scope: number;
  readonly ifindex: number;
  /** u32 addresses (IPv4 only; null for other families or when absent). */
  readonly local: number | null;
  readonly address: number | null;
  readonly broadcast: number | null;
  readonly label: string | null;
}

/** A link as mesh sees it (RtLink made readable). */
export interface LinkInfo {
  readonly ifindex: number;
  readonly name: string;
  /** Lower-case colon MAC; null when the link has no 6-byte hardware address. */
  readonly mac: string | null;
  readonly mtu: number;
  /** IFF_UP: administratively up. */
  readonly up: boolean;
  /** IFF_LOWER_UP: the link layer has carrier. */
  readonly carrier: boolean;
  /** "up", "down", "lowerlayerdown", "unknown", ... */
  readonly operstate: string;
  /** IFLA_INFO_KIND ("veth", "bridge", "vxlan", "tun", ...); null for a plain NIC. */
  readonly kind: string | null;
  readonly loopback: boolean;
  /** ARPHRD_ETHER */
  readonly ethernet: boolean;
  /** ifindex of the bridge or bond this link is enslaved to. */
  readonly master: number | null;
  readonly speedMbps: number | null;
}

/** The error a netlink request ended with: errno 0 is a plain ack. */
export interface NlError {
  readonly errno: number;
  /** The kernel's extended-ack text (NLMSGERR_ATTR_MSG), when it sent one. */
  readonly message: string | null;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Splits a datagram into its messages. A header that does not fit is a DecodeError. */
export function parseMessages(buf: Uint8Array): NlMessage[] {
  const v = view(buf);
  const out: NlMessage[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NETLINK.NLMSG_HDRLEN) {
      throw new DecodeError("nlmsghdr", off, `${buf.length - off} bytes left, header needs 16`);
    }
    const len = v.getUint32(off, LE);
    if (len < NETLINK.NLMSG_HDRLEN || len > buf.length - off) {
      throw new DecodeError("nlmsg_len", off, `${len} with ${buf.length - off} bytes left`);
    }
    out.push({
      type: v.getUint16(off + 4, LE),
      flags: v.getUint16(off + 6, LE),
      seq: v.getUint32(off + 8, LE),
      pid: v.getUint32(off + 12, LE),
      payload: buf.subarray(off + NETLINK.NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Parses rtattrs. Fewer than 4 bytes left over is padding; an attribute that overruns is not. */
export function parseAttrs(buf: Uint8Array, field: string): RtAttr[] {
  const v = view(buf);
  const out: RtAttr[] = [];
  let off = 0;
  while (buf.length - off >= 4) {
    const len = v.getUint16(off, LE);
    if (len < 4 || len > buf.length - off) {
      throw new DecodeError(`${field} rta_len`, off, `${len} with ${buf.length - off} bytes left`);
    }
    out.push({
      type: v.getUint16(off + 2, LE) & NETLINK.NLA_TYPE_MASK,
      value: buf.subarray(off + 4, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes by type; a repeated one keeps its last value, as the kernel's nla_parse does. */
function attrMap(attrs: readonly RtAttr[]): Map<number, Uint8Array> {
  return new Map(attrs.map((a) => [a.type, a.value]));
}

function u32Attr(value: Uint8Array | undefined, field: string): number | null {
  if (value === undefined) return null;
  if (value.length < 4) throw new DecodeError(field, 0, `${value.length} bytes, need 4`);
  return view(value).getUint32(0, LE);
}

function ipv4Attr(value: Uint8Array | undefined, field: string): number | null {
  if (value === undefined) return null;
  if (value.length !== 4) throw new DecodeError(field, 0, `${value.length} bytes, need 4`);
  return ipv4FromBytes(value);
}

/** A NUL-terminated string attribute (a missing NUL ends at the attribute's end). */
function strAttr(value: Uint8Array | undefined): string | null {
  if (value === undefined) return null;
  const nul = value.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? value : value.subarray(0, nul));
}

/** Decodes the payload of RTM_NEWLINK / RTM_DELLINK. */
export function decodeLink(payload: Uint8Array): RtLink {
  if (payload.length < IFINFOMSG_LEN) {
    throw new DecodeError("ifinfomsg", 0, `${payload.length} bytes, need ${IFINFOMSG_LEN}`);
  }
  const v = view(payload);
  const attrs = attrMap(parseAttrs(payload.subarray(IFINFOMSG_LEN), "ifinfomsg"));
  const name = strAttr(attrs.get(RTNL.IFLA_IFNAME));
  if (name === null || name === "") throw new DecodeError("IFLA_IFNAME", 0, "missing");
  const carrier = attrs.get(RTNL.IFLA_CARRIER);
  const operstate = attrs.get(RTNL.IFLA_OPERSTATE);
  const linkinfo = attrs.get(RTNL.IFLA_LINKINFO);
  const kind = linkinfo === undefined
    ? null
    : strAttr(attrMap(parseAttrs(linkinfo, "IFLA_LINKINFO")).get(RTNL.IFLA_INFO_KIND));
  return {
    family: v.getUint8(0),
    type: v.getUint16(2, LE),
    ifindex: v.getInt32(4, LE),
    flags: v.getUint32(8, LE),
    name,
    address: attrs.get(RTNL.IFLA_ADDRESS) ?? null,
    mtu: u32Attr(attrs.get(RTNL.IFLA_MTU), "IFLA_MTU"),
    operstate: operstate === undefined || operstate.length < 1 ? null : operstate[0]!,
    carrier: carrier === undefined || carrier.length < 1 ? null : carrier[0] !== 0,
    master: u32Attr(attrs.get(RTNL.IFLA_MASTER), "IFLA_MASTER"),
    kind: kind === "" ? null : kind,
  };
}

/** Decodes the payload of RTM_NEWADDR / RTM_DELADDR. */
export function decodeAddr(payload: Uint8Array): RtAddr {
  if (payload.length < IFADDRMSG_LEN) {
    throw new DecodeError("ifaddrmsg", 0, `${payload.length} bytes, need ${IFADDRMSG_LEN}`);
  }
  const v = view(payload);
  const family = v.getUint8(0);
  const prefix = v.getUint8(1);
  if (family === RTNL.AF_INET && prefix > 32) {
    throw new DecodeError("ifa_prefixlen", 1, `${prefix} is over 32`);
  }
  const attrs = attrMap(parseAttrs(payload.subarray(IFADDRMSG_LEN), "ifaddrmsg"));
  const inet = family === RTNL.AF_INET;
  return {
    family,
    prefix,
    flags: u32Attr(attrs.get(RTNL.IFA_FLAGS), "IFA_FLAGS") ?? v.getUint8(2),
    scope: v.getUint8(3),
    ifindex: v.getUint32(4, LE),
    local: inet ? ipv4Attr(attrs.get(RTNL.IFA_LOCAL), "IFA_LOCAL") : null,
    address: inet ? ipv4Attr(attrs.get(RTNL.IFA_ADDRESS), "IFA_ADDRESS") : null,
    broadcast: inet ? ipv4Attr(attrs.get(RTNL.IFA_BROADCAST), "IFA_BROADCAST") : null,
    label: strAttr(attrs.get(RTNL.IFA_LABEL)),
  };
}

/**
 * The errno of an NLMSG_ERROR (0 for an ack) and the extended-ack text. The
 * text follows the echoed request: its header alone when NLM_F_CAPPED is set,
 * the whole request otherwise.
 */
export function decodeError(msg: NlMessage): NlError {
  const p = msg.payload;
  if (p.length < 4) throw new DecodeError("nlmsgerr.error", 0, `${p.length} bytes, need 4`);
  const v = view(p);
  const errno = -v.getInt32(0, LE) | 0; // | 0: an ack is 0, not -0
  let message: string | null = null;
  if ((msg.flags & NETLINK.NLM_F_ACK_TLVS) !== 0 && p.length >= 4 + NETLINK.NLMSG_HDRLEN) {
    const echoed = (msg.flags & NETLINK.NLM_F_CAPPED) !== 0
      ? NETLINK.NLMSG_HDRLEN
      : v.getUint32(4, LE);
    const at = 4 + align4(echoed);
    if (echoed >= NETLINK.NLMSG_HDRLEN && at <= p.length) {
      try {
        const tlvs = attrMap(parseAttrs(p.subarray(at), "nlmsgerr"));
        message = strAttr(tlvs.get(NETLINK.NLMSGERR_ATTR_MSG));
      } catch (e) {
        // The errno is what matters; an unreadable explanation is left out.
        if (!(e instanceof DecodeError)) throw e;
      }
    }
  }
  return { errno, message };
}

/** The status a dump's NLMSG_DONE carries (a positive errno; 0 for success). */
export function decodeDone(msg: NlMessage): number {
  return msg.payload.length >= 4 ? -view(msg.payload).getInt32(0, LE) | 0 : 0;
}

/** "up", "down", ... for IF_OPER_*; "unknown" for values past the table. */
export function operstateName(state: number | null): string {
  return OPERSTATE[state ?? 0] ?? "unknown";
}

/** The contents of /sys/class/net/<name>/speed as Mb/s: null for -1, junk or 0. */
export function parseSpeed(text: string | null): number | null {
  if (text === null || !/^\s*\d+\s*$/.test(text)) return null;
  const n = Number(text);
  return n > 0 && n < 0xffffffff ? n : null;
}

/** A decoded link as mesh reports it; `speedMbps` comes from sysfs (not netlink). */
export function linkInfoOf(link: RtLink, speedMbps: number | null): LinkInfo {
  return {
    ifindex: link.ifindex,
    name: link.name,
    mac: link.address?.length === 6 ? formatMac(link.address) : null,
    mtu: link.mtu ?? 0,
    up: (link.flags & RTNL.IFF_UP) !== 0,
    carrier: (link.flags & RTNL.IFF_LOWER_UP) !== 0,
    operstate: operstateName(link.operstate),
    kind: link.kind,
    loopback: (link.flags & RTNL.IFF_LOOPBACK) !== 0 || link.type === RTNL.ARPHRD_LOOPBACK,
    ethernet: link.type === RTNL.ARPHRD_ETHER,
    master: link.master === 0 ? null : link.master,
    speedMbps,
  };
}

// ---------------------------------------------------------------------------
// Requests

function attr(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(align4(4 + value.length));
  const v = view(out);
  v.setUint16(0, 4 + value.length, LE);
  v.setUint16(2, type, LE);
  out.set(value, 4);
  return out;
}

function u32Bytes(n: number): Uint8Array {
  const b = new Uint8Array(4);
  view(b).setUint32(0, n, LE);
  return b;
}

/** One message: header, then the parts (each a multiple of 4 bytes long). */
function message(
  type: number,
  flags: number,
  seq: number,
  parts: readonly Uint8Array[],
): Uint8Array<ArrayBuffer> {
  const len = parts.reduce((n: number, p) => n + p.length, NETLINK.NLMSG_HDRLEN);
  const out = new Uint8Array(len);
  const v = view(out);
  v.setUint32(0, len, LE);
  v.setUint16(4, type, LE);
  v.setUint16(6, flags | NETLINK.NLM_F_REQUEST, LE);
  v.setUint32(8, seq >>> 0, LE);
  v.setUint32(12, 0, LE); // nlmsg_pid: the kernel fills in our port id
  let off = NETLINK.NLMSG_HDRLEN;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The ifaddrmsg of an add or delete, after checking what the caller passed. */
function ifaddrmsg(ifindex: number, ip: number, prefix: number): Uint8Array {
  if (!Number.isInteger(ip) || ip < 0 || ip > 0xffffffff) {
    throw new RangeError(`ip ${ip} is not a u32 IPv4 address`);
  }
  if (!Number.isInteger(ifindex) || ifindex <= 0 || ifindex > 0x7fffffff) {
    throw new RangeError(`ifindex ${ifindex} is not a positive integer`);
  }
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`prefix ${prefix} is not 0-32`);
  }
  const b = new Uint8Array(IFADDRMSG_LEN);
  const v = view(b);
  v.setUint8(0, RTNL.AF_INET);
  v.setUint8(1, prefix);
  v.setUint8(3, RTNL.RT_SCOPE_UNIVERSE);
  v.setUint32(4, ifindex, LE);
  return b;
}

/** RTM_GETLINK dump of every link, without counters. */
export function encodeGetLink(seq: number): Uint8Array<ArrayBuffer> {
  const ifi = new Uint8Array(IFINFOMSG_LEN); // AF_UNSPEC, all zero: no filter
  const mask = attr(RTNL.IFLA_EXT_MASK, u32Bytes(RTNL.RTEXT_FILTER_SKIP_STATS));
  return message(RTNL.RTM_GETLINK, NETLINK.NLM_F_DUMP, seq, [ifi, mask]);
}

/** RTM_GETADDR dump of the IPv4 addresses. */
export function encodeGetAddr(seq: number): Uint8Array<ArrayBuffer> {
  const ifa = new Uint8Array(IFADDRMSG_LEN);
  ifa[0] = RTNL.AF_INET;
  return message(RTNL.RTM_GETADDR, NETLINK.NLM_F_DUMP, seq, [ifa]);
}

/**
 * RTM_NEWADDR that fails with EEXIST when the address is there. Sets the
 * broadcast address as `ip addr add ... brd +` does: host bits all ones, for
 * prefixes up to /30 (a /31 or /32 has none).
 */
export function encodeNewAddr(
  seq: number,
  ifindex: number,
  ip: number,
  prefix: number,
): Uint8Array<ArrayBuffer> {
  const parts = [
    ifaddrmsg(ifindex, ip, prefix),
    attr(RTNL.IFA_LOCAL, ipv4ToBytes(ip)),
    attr(RTNL.IFA_ADDRESS, ipv4ToBytes(ip)),
  ];
  if (prefix <= 30) {
    parts.push(attr(RTNL.IFA_BROADCAST, ipv4ToBytes((ip | ~prefixMask(prefix)) >>> 0)));
  }
  const flags = NETLINK.NLM_F_CREATE | NETLINK.NLM_F_EXCL | NETLINK.NLM_F_ACK;
  return message(RTNL.RTM_NEWADDR, flags, seq, parts);
}

/**
 * RTM_DELADDR of one address. IFA_ADDRESS makes the kernel match the prefix
 * too, as `ip addr del` does (IFA_LOCAL alone matches any prefix).
 */
export function encodeDelAddr(
  seq: number,
  ifindex: number,
  ip: number,
  prefix: number,
): Uint8Array<ArrayBuffer> {
  return message(RTNL.RTM_DELADDR, NETLINK.NLM_F_ACK, seq, [
    ifaddrmsg(ifindex, ip, prefix),
    attr(RTNL.IFA_LOCAL, ipv4ToBytes(ip)),
    attr(RTNL.IFA_ADDRESS, ipv4ToBytes(ip)),
  ]);
}
