/**
 * @module
 * Ethernet II + IPv4 + UDP frames for raw sockets: build them with correct
 * checksums, and parse received ones. Pure. Parsing returns null for frames
 * that are simply not IPv4/UDP (not an error: raw sockets see other traffic)
 * and throws DecodeError for IPv4/UDP frames whose headers are inconsistent.
 */
import { DecodeError } from "../errors.ts";
import { finishChecksum, onesSum } from "../wire/mod.ts";

export const ETHERTYPE = { ipv4: 0x0800, arp: 0x0806, vlan: 0x8100 } as const;
export const IP_PROTOCOL_UDP = 17;
export const ETH_HEADER = 14;
export const IPV4_HEADER = 20;
export const UDP_HEADER = 8;
/** Bytes in front of the UDP payload of a frame built by `encodeUdpFrame`. */
export const UDP_FRAME_OVERHEAD = ETH_HEADER + IPV4_HEADER + UDP_HEADER;

export const BROADCAST_MAC: Uint8Array = new Uint8Array([255, 255, 255, 255, 255, 255]);

/** Addresses and payload of one UDP datagram carried in an Ethernet frame. */
export interface UdpFrame {
  readonly srcMac: Uint8Array;
  readonly dstMac: Uint8Array;
  /** IPv4 addresses as unsigned 32-bit numbers. */
  readonly srcIp: number;
  readonly dstIp: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  /** IPv4 TTL; 64 when omitted on encode. */
  readonly ttl?: number;
}

function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 255;
  b[off + 1] = (v >>> 16) & 255;
  b[off + 2] = (v >>> 8) & 255;
  b[off + 3] = v & 255;
}

function get32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

function get16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

/**
 * Builds a complete frame. The UDP checksum is computed (not left zero) because
 * some firmware and busybox drop zero-checksum datagrams they did not expect.
 * With `into` (big enough), the frame is built there and a view of it is
 * returned: a server sending one reply after another needs no new buffer.
 */
export function encodeUdpFrame(f: UdpFrame, ipId = 0, into?: Uint8Array): Uint8Array {
  const udpLen = UDP_HEADER + f.payload.length;
  const ipLen = IPV4_HEADER + udpLen;
  const size = ETH_HEADER + ipLen;
  const b = into !== undefined && into.length >= size
    ? into.subarray(0, size)
    : new Uint8Array(size);
  b.set(f.dstMac.subarray(0, 6), 0);
  b.set(f.srcMac.subarray(0, 6), 6);
  b[12] = 0x08;
  b[13] = 0x00;
  const ip = ETH_HEADER;
  b[ip] = 0x45;
  b[ip + 1] = 0x10; // low delay, as ISC dhcpd and dnsmasq mark DHCP replies
  b[ip + 2] = ipLen >>> 8;
  b[ip + 3] = ipLen & 255;
  b[ip + 4] = (ipId >>> 8) & 255;
  b[ip + 5] = ipId & 255;
  b[ip + 6] = 0x40; // don't fragment
  b[ip + 7] = 0;
  b[ip + 8] = f.ttl ?? 64;
  b[ip + 9] = IP_PROTOCOL_UDP;
  b[ip + 10] = 0; // checksums are summed with their own field zero
  b[ip + 11] = 0;
  put32(b, ip + 12, f.srcIp);
  put32(b, ip + 16, f.dstIp);
  const ipSum = finishChecksum(onesSum(b, ip, ip + IPV4_HEADER));
  b[ip + 10] = ipSum >>> 8;
  b[ip + 11] = ipSum & 255;
  const u = ip + IPV4_HEADER;
  b[u] = f.srcPort >>> 8;
  b[u + 1] = f.srcPort & 255;
  b[u + 2] = f.dstPort >>> 8;
  b[u + 3] = f.dstPort & 255;
  b[u + 4] = udpLen >>> 8;
  b[u + 5] = udpLen & 255;
  b[u + 6] = 0;
  b[u + 7] = 0;
  b.set(f.payload, u + UDP_HEADER);
  // Pseudo-header: src, dst, zero+protocol, UDP length.
  let sum = onesSum(b, ip + 12, ip + 20);
  sum += IP_PROTOCOL_UDP + udpLen;
  sum = onesSum(b, u, u + udpLen, sum);
  let udpSum = finishChecksum(sum);
  if (udpSum === 0) udpSum = 0xffff; // zero means "no checksum" in UDP over IPv4
  b[u + 6] = udpSum >>> 8;
  b[u + 7] = udpSum & 255;
  return b;
}

/**
 * Parses an Ethernet II frame carrying IPv4/UDP. Returns null when the frame is
 * something else (another ethertype or protocol, or a non-first fragment).
 * The payload is a view into `frame`, not a copy. Checksums are not verified
 * when `verify` is false (the kernel already checked frames that came from a
 * real NIC; veth frames often carry partial checksums).
 */
export function decodeUdpFrame(frame: Uint8Array, verify = false): UdpFrame | null {
  if (frame.length < ETH_HEADER) return null;
  let off = 12;
  let type = get16(frame, off);
  if (type === ETHERTYPE.vlan) {
    off += 4;
    if (frame.length < off + 2) return null;
    type = get16(frame, off);
  }
  if (type !== ETHERTYPE.ipv4) return null;
  const ip = off + 2;
  if (frame.length < ip + IPV4_HEADER) throw new DecodeError("ipv4.header", ip, "frame too short");
  const vihl = frame[ip]!;
  if (vihl >> 4 !== 4) throw new DecodeError("ipv4.version", ip, `version ${vihl >> 4}`);
  const ihl = (vihl & 15) * 4;
  if (ihl < IPV4_HEADER) throw new DecodeError("ipv4.ihl", ip, `header length ${ihl}`);
  const total = get16(frame, ip + 2);
  if (total < ihl || ip + total > frame.length) {
    throw new DecodeError(
      "ipv4.total_length",
      ip + 2,
      `length ${total}, frame has ${frame.length - ip}`,
    );
  }
  if (frame[ip + 9] !== IP_PROTOCOL_UDP) return null;
  const frag = get16(frame, ip + 6);
  if ((frag & 0x1fff) !== 0 || (frag & 0x2000) !== 0) return null; // fragments: not for us
  if (verify && finishChecksum(onesSum(frame, ip, ip + ihl)) !== 0) {
    throw new DecodeError("ipv4.checksum", ip + 10, "bad header checksum");
  }
  const u = ip + ihl;
  if (total < ihl + UDP_HEADER) throw new DecodeError("udp.header", u, "datagram too short");
  const udpLen = get16(frame, u + 4);
  if (udpLen < UDP_HEADER || udpLen > total - ihl) {
    throw new DecodeError("udp.length", u + 4, `length ${udpLen}, IP payload ${total - ihl}`);
  }
  return {
    dstMac: frame.subarray(0, 6),
    srcMac: frame.subarray(6, 12),
    srcIp: get32(frame, ip + 12),
    dstIp: get32(frame, ip + 16),
    srcPort: get16(frame, u),
    dstPort: get16(frame, u + 2),
    payload: frame.subarray(u + UDP_HEADER, u + udpLen),
    ttl: frame[ip + 8]!,
  };
}
