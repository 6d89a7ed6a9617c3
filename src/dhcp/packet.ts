/**
 * @module
 * The DHCP/BOOTP message codec (RFC 2131 §2, RFC 2132, RFC 3396). Pure.
 *
 * ```
 *  0               1               2               3
 *  op(1) htype(1) hlen(1) hops(1) | xid(4) | secs(2) flags(2)
 *  ciaddr(4) yiaddr(4) siaddr(4) giaddr(4)            offset 12..27
 *  chaddr(16)                                          offset 28
 *  sname(64)                                           offset 44
 *  file(128)                                           offset 108
 *  magic cookie 99.130.83.99                           offset 236
 *  options ... end(255)                                offset 240
 * ```
 *
 * Decoding throws only DecodeError (field + offset). When option 52 is
 * present the `file`/`sname` fields are read as extra option space, the
 * resulting packet has them empty and option 52 itself is dropped, so the
 * model always holds "the options" and "the strings", never both.
 */
import { DecodeError } from "../errors.ts";
import { ByteWriter, formatMac, ipv4FromBytes, macToBytes } from "../wire/mod.ts";
import {
  CHADDR_LENGTH,
  COOKIE_OFFSET,
  FILE_LENGTH,
  FILE_OFFSET,
  FLAG_BROADCAST,
  HTYPE_ETHERNET,
  MAGIC_COOKIE,
  MIN_BOOTP_LENGTH,
  MIN_DHCP_LENGTH,
  Opt,
  Overload,
  SNAME_LENGTH,
  SNAME_OFFSET,
} from "./constants.ts";
import { textToBytes } from "./option_values.ts";
import {
  concatOptions,
  type DhcpOptions,
  encodedOptionsLength,
  encodeOptions,
  newOptionChunks,
  readOptionArea,
} from "./options.ts";

/** A decoded DHCP message. Addresses are unsigned 32-bit numbers. */
export interface DhcpPacket {
  /** 1 = BOOTREQUEST (client), 2 = BOOTREPLY (server). */
  readonly op: number;
  /** Hardware type, 1 = Ethernet. */
  readonly htype: number;
  /** Hardware address length, 6 for Ethernet. */
  readonly hlen: number;
  /** Relay hop count. */
  readonly hops: number;
  /** Transaction id chosen by the client; replies echo it. */
  readonly xid: number;
  /** Seconds since the client began acquiring. */
  readonly secs: number;
  /** Bit 15 = broadcast: the client cannot receive unicast before it has an address. */
  readonly flags: number;
  /** Client's current address (RENEWING/REBINDING/INFORM), else 0. */
  readonly ciaddr: number;
  /** "Your" address: what the server assigns. */
  readonly yiaddr: number;
  /** Next server (TFTP) address. */
  readonly siaddr: number;
  /** Relay agent address; non-zero when a relay forwarded the message. */
  readonly giaddr: number;
  /** Client hardware address field, always 16 bytes (the MAC is the first `hlen`). */
  readonly chaddr: Uint8Array;
  /** Server host name (NUL-terminated text in the header). */
  readonly sname: string;
  /** Boot file name (NUL-terminated text in the header). */
  readonly file: string;
  /** Options, code → value, repeated options already concatenated. */
  readonly options: DhcpOptions;
}

/** Reads a NUL-terminated Latin-1 field. */
function readCString(b: Uint8Array, start: number, len: number): string {
  let s = "";
  for (let i = start; i < start + len; i++) {
    const c = b[i]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

/** Checks the fixed-size options the lease state machine depends on. */
function checkFixedLengths(opts: Map<number, Uint8Array>, firstOffset: Map<number, number>): void {
  const fixed: readonly (readonly [number, number])[] = [
    [Opt.MessageType, 1],
    [Opt.RequestedIpAddress, 4],
    [Opt.IpAddressLeaseTime, 4],
    [Opt.ServerIdentifier, 4],
    [Opt.MaxMessageSize, 2],
  ];
  for (const [code, len] of fixed) {
    const v = opts.get(code);
    if (v !== undefined && v.length !== len) {
      throw new DecodeError(
        `option ${code}`,
        firstOffset.get(code) ?? MIN_DHCP_LENGTH,
        `length ${v.length}, expected ${len}`,
      );
    }
  }
}

/** Options for {@link decodePacket}. */
export interface DecodeOptions {
  /**
   * Copy option values and chaddr out of `b` (default true). A server loop
   * whose transport hands over a fresh buffer per datagram passes false and
   * saves an allocation per option: the packet then keeps `b` alive.
   */
  readonly copy?: boolean;
}

/** Decodes one DHCP message. Throws DecodeError naming the field and offset. */
export function decodePacket(b: Uint8Array, opts: DecodeOptions = {}): DhcpPacket {
  const copy = opts.copy ?? true;
  if (b.length < MIN_DHCP_LENGTH) {
    throw new DecodeError(
      "packet",
      b.length,
      `${b.length} bytes, need at least ${MIN_DHCP_LENGTH}`,
    );
  }
  const op = b[0]!;
  if (op !== 1 && op !== 2) throw new DecodeError("op", 0, `unknown op ${op}`);
  const hlen = b[2]!;
  if (hlen > CHADDR_LENGTH) throw new DecodeError("hlen", 2, `${hlen} exceeds ${CHADDR_LENGTH}`);
  if (ipv4FromBytes(b, COOKIE_OFFSET) !== MAGIC_COOKIE) {
    throw new DecodeError("cookie", COOKIE_OFFSET, "magic cookie is not 99.130.83.99");
  }

  const acc = newOptionChunks();
  readOptionArea(b, MIN_DHCP_LENGTH, b.length, "options", acc);
  // Option 52 is honoured only from the main area, and read before the extra
  // areas are scanned, so an overload option inside file/sname cannot loop.
  let overload = 0;
  const ov = acc.chunks.get(Opt.OptionOverload);
  if (ov !== undefined) {
    const at = acc.firstOffset.get(Opt.OptionOverload)!;
    if (ov.length !== 1 || ov[0]!.length !== 1) {
      throw new DecodeError("option 52", at, "overload must be one byte");
    }
    overload = ov[0]![0]!;
    if (overload < Overload.File || overload > Overload.Both) {
      throw new DecodeError("option 52", at, `overload value ${overload} is not 1, 2 or 3`);
    }
    acc.chunks.delete(Opt.OptionOverload);
  }
  // RFC 3396 §7: concatenation order is options, then file, then sname.
  if (overload & Overload.File) {
    readOptionArea(b, FILE_OFFSET, FILE_OFFSET + FILE_LENGTH, "file", acc);
  }
  if (overload & Overload.Sname) {
    readOptionArea(b, SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH, "sname", acc);
  }
  acc.chunks.delete(Opt.OptionOverload);
  const options = concatOptions(acc, copy);
  checkFixedLengths(options, acc.firstOffset);

  return {
    op,
    htype: b[1]!,
    hlen,
    hops: b[3]!,
    xid: ipv4FromBytes(b, 4),
    secs: u16(b, 8),
    flags: u16(b, 10),
    ciaddr: ipv4FromBytes(b, 12),
    yiaddr: ipv4FromBytes(b, 16),
    siaddr: ipv4FromBytes(b, 20),
    giaddr: ipv4FromBytes(b, 24),
    chaddr: copy ? b.slice(28, 28 + CHADDR_LENGTH) : b.subarray(28, 28 + CHADDR_LENGTH),
    sname: overload & Overload.Sname ? "" : readCString(b, SNAME_OFFSET, SNAME_LENGTH),
    file: overload & Overload.File ? "" : readCString(b, FILE_OFFSET, FILE_LENGTH),
    options,
  };
}

function writeField(w: ByteWriter, text: string, size: number, name: string): void {
  if (text === "") { // the common case: no allocation
    w.zeros(size);
    return;
  }
  const bytes = textToBytes(text);
  if (bytes.length > size) throw new RangeError(`${name} is ${bytes.length} bytes, max ${size}`);
  w.bytes(bytes).zeros(size - bytes.length);
}

/** Encoded length of a packet before padding to the BOOTP minimum. */
export function packetLength(pkt: Pick<DhcpPacket, "options">): number {
  return MIN_DHCP_LENGTH + encodedOptionsLength(pkt.options);
}

/**
 * Encodes a packet, padded to at least 300 bytes (BOOTP minimum; some
 * firmware drops shorter replies). Values that cannot be represented
 * (a 70-character sname, a 17-byte chaddr) are programming errors: RangeError.
 * With `scratch` (big enough), the packet is written there and a view of it
 * is returned, valid until the scratch is used again: a server that sends
 * each reply as soon as it is encoded allocates nothing.
 */
export function encodePacket(pkt: DhcpPacket, scratch?: Uint8Array): Uint8Array {
  if (pkt.chaddr.length > CHADDR_LENGTH) {
    throw new RangeError(`chaddr is ${pkt.chaddr.length} bytes, max ${CHADDR_LENGTH}`);
  }
  const size = Math.max(MIN_BOOTP_LENGTH, packetLength(pkt));
  const w = new ByteWriter(scratch !== undefined && scratch.length >= size ? scratch : size);
  w.u8(pkt.op).u8(pkt.htype).u8(pkt.hlen).u8(pkt.hops);
  w.u32(pkt.xid).u16(pkt.secs).u16(pkt.flags);
  w.u32(pkt.ciaddr).u32(pkt.yiaddr).u32(pkt.siaddr).u32(pkt.giaddr);
  w.bytes(pkt.chaddr).zeros(CHADDR_LENGTH - pkt.chaddr.length);
  writeField(w, pkt.sname, SNAME_LENGTH, "sname");
  writeField(w, pkt.file, FILE_LENGTH, "file");
  w.u32(MAGIC_COOKIE);
  encodeOptions(w, pkt.options);
  if (w.length < MIN_BOOTP_LENGTH) w.zeros(MIN_BOOTP_LENGTH - w.length);
  // The writer was sized exactly and is dropped here: no copy needed.
  return w.take();
}

/** The client's MAC (first 6 chaddr bytes) in canonical form; meaningful for Ethernet. */
export function clientMac(pkt: Pick<DhcpPacket, "chaddr">): string {
  return formatMac(pkt.chaddr, 0);
}

/** True when the client asked for broadcast replies. */
export function wantsBroadcast(pkt: Pick<DhcpPacket, "flags">): boolean {
  return (pkt.flags & FLAG_BROADCAST) !== 0;
}

/** A 16-byte chaddr field holding an Ethernet MAC. */
export function chaddrFromMac(mac: string): Uint8Array {
  const out = new Uint8Array(CHADDR_LENGTH);
  out.set(macToBytes(mac));
  return out;
}

/** True when the hardware address is an Ethernet MAC (the only kind mesh leases to). */
export function isEthernet(pkt: Pick<DhcpPacket, "htype" | "hlen">): boolean {
  return pkt.htype === HTYPE_ETHERNET && pkt.hlen === 6;
}
