/**
 * @module
 * ARP over Ethernet/IPv4 (RFC 826), with the Ethernet header. Pure.
 *
 * ```
 * eth dst(6) src(6) type 0x0806 | htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op
 * sha(6) spa(4) tha(6) tpa(4)                      = 42 bytes (no padding)
 * ```
 */
import { DecodeError } from "../errors.ts";

export const ArpOp = { request: 1, reply: 2 } as const;
export type ArpOp = typeof ArpOp[keyof typeof ArpOp];

export const ARP_FRAME_LENGTH = 42;

/** One ARP message. MACs are 6-byte arrays, IPs u32 numbers. */
export interface ArpPacket {
  readonly op: number;
  readonly sha: Uint8Array;
  readonly spa: number;
  readonly tha: Uint8Array;
  readonly tpa: number;
  /** Ethernet addresses of the carrying frame. */
  readonly ethSrc: Uint8Array;
  readonly ethDst: Uint8Array;
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

/** Builds a 42-byte Ethernet frame carrying `p`. */
export function encodeArpFrame(p: ArpPacket): Uint8Array {
  const b = new Uint8Array(ARP_FRAME_LENGTH);
  b.set(p.ethDst.subarray(0, 6), 0);
  b.set(p.ethSrc.subarray(0, 6), 6);
  b[12] = 0x08;
  b[13] = 0x06;
  b[15] = 1; // htype Ethernet
  b[16] = 0x08; // ptype IPv4
  b[18] = 6;
  b[19] = 4;
  b[21] = p.op;
  b.set(p.sha.subarray(0, 6), 22);
  put32(b, 28, p.spa);
  b.set(p.tha.subarray(0, 6), 32);
  put32(b, 38, p.tpa);
  return b;
}

/**
 * Parses an Ethernet frame. Returns null for non-ARP frames; throws DecodeError
 * for ARP frames that are truncated or not Ethernet/IPv4 ARP.
 */
export function decodeArpFrame(frame: Uint8Array): ArpPacket | null {
  if (frame.length < 14 || frame[12] !== 0x08 || frame[13] !== 0x06) return null;
  if (frame.length < ARP_FRAME_LENGTH) {
    throw new DecodeError(
      "arp",
      frame.length,
      `frame of ${frame.length} bytes, need ${ARP_FRAME_LENGTH}`,
    );
  }
  if (frame[14] !== 0 || frame[15] !== 1) throw new DecodeError("arp.htype", 14, "not Ethernet");
  if (frame[16] !== 0x08 || frame[17] !== 0x00) throw new DecodeError("arp.ptype", 16, "not IPv4");
  if (frame[18] !== 6 || frame[19] !== 4) {
    throw new DecodeError("arp.hlen", 18, "address lengths not 6/4");
  }
  return {
    ethDst: frame.subarray(0, 6),
    ethSrc: frame.subarray(6, 12),
    op: (frame[20]! << 8) | frame[21]!,
    sha: frame.subarray(22, 28),
    spa: get32(frame, 28),
    tha: frame.subarray(32, 38),
    tpa: get32(frame, 38),
  };
}

const ZERO_MAC = new Uint8Array(6);
const BROADCAST = new Uint8Array([255, 255, 255, 255, 255, 255]);

/**
 * An RFC 5227 probe for `ip`: sender IP 0.0.0.0 so that no neighbour cache
 * learns a binding from it, broadcast to everyone.
 */
export function arpProbe(ourMac: Uint8Array, ip: number): ArpPacket {
  return {
    op: ArpOp.request,
    sha: ourMac,
    spa: 0,
    tha: ZERO_MAC,
    tpa: ip,
    ethSrc: ourMac,
    ethDst: BROADCAST,
  };
}

/**
 * True when `p` shows that someone holds `ip`: a reply from it, or any ARP
 * message whose sender is it (a gratuitous announcement, or a request it sent).
 * Another host's probe for the same address (sender 0.0.0.0) also counts:
 * someone is about to take it.
 */
export function provesInUse(p: ArpPacket, ip: number, ourMac: Uint8Array): boolean {
  if (sameMac(p.sha, ourMac)) return false;
  if (p.spa === ip) return true;
  return p.op === ArpOp.request && p.spa === 0 && p.tpa === ip;
}

function sameMac(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 6; i++) if (a[i] !== b[i]) return false;
  return true;
}
