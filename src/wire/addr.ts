/**
 * @module
 * IPv4 and MAC address parsing/formatting and CIDR math. Pure.
 */

/** Parses dotted-quad IPv4 into an unsigned 32-bit number. Throws RangeError. */
export function parseIpv4(text: string): number {
  const parts = text.split(".");
  if (parts.length !== 4) throw new RangeError(`Cannot parse IPv4 address "${text}"`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) throw new RangeError(`Cannot parse IPv4 address "${text}"`);
    const v = Number(p);
    if (v > 255) throw new RangeError(`Cannot parse IPv4 address "${text}"`);
    n = n * 256 + v;
  }
  return n >>> 0;
}

/** Formats an unsigned 32-bit number as dotted-quad. */
export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** True when `text` is a valid dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

/** Reads 4 bytes as an IPv4 number. */
export function ipv4FromBytes(b: Uint8Array, offset = 0): number {
  return ((b[offset]! << 24) | (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!) >>>
    0;
}

/** Writes an IPv4 number as 4 bytes. */
export function ipv4ToBytes(n: number): Uint8Array {
  // Indexed stores, not an array literal: this runs several times per DHCP reply.
  const b = new Uint8Array(4);
  b[0] = n >>> 24;
  b[1] = n >>> 16;
  b[2] = n >>> 8;
  b[3] = n;
  return b;
}

/** Lower-case, colon-separated MAC ("aa:bb:cc:dd:ee:ff"). */
export type MacAddress = string;

/** Parses a MAC in colon, hyphen or bare-hex form; returns canonical lower-case colon form. */
export function parseMac(text: string): MacAddress {
  const hex = text.trim().toLowerCase().replace(/[:\-.]/g, "");
  if (!/^[0-9a-f]{12}$/.test(hex)) {
    throw new RangeError(`Cannot parse MAC address "${text}": expected 6 hex octets`);
  }
  return hex.match(/../g)!.join(":");
}

/** Formats 6 bytes as a canonical MAC. */
export function formatMac(b: Uint8Array, offset = 0): MacAddress {
  // Runs for every DHCP request: table lookups instead of toString/padStart/join.
  let s = HEX2[b[offset] ?? 0]!;
  for (let i = 1; i < 6; i++) s += ":" + HEX2[b[offset + i] ?? 0]!;
  return s;
}

const HEX2: readonly string[] = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);

/** MAC to 6 bytes. */
export function macToBytes(mac: MacAddress): Uint8Array {
  return new Uint8Array(parseMac(mac).split(":").map((h) => parseInt(h, 16)));
}

/** An IPv4 network. `network` has the host bits cleared. */
export interface Cidr {
  readonly network: number;
  readonly prefix: number;
}

/** Netmask of a prefix length as a number. */
export function prefixMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "10.0.0.0/24". Host bits set in the address are an error. */
export function parseCidr(text: string): Cidr {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (!m) throw new RangeError(`Cannot parse CIDR "${text}": expected a.b.c.d/len`);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new RangeError(`Cannot parse CIDR "${text}": prefix above 32`);
  const addr = parseIpv4(m[1]!);
  const network = (addr & prefixMask(prefix)) >>> 0;
  if (network !== addr) {
    throw new RangeError(
      `Cannot parse CIDR "${text}": host bits set (network is ${formatIpv4(network)}/${prefix})`,
    );
  }
  return { network, prefix };
}

/** Formats a Cidr as "a.b.c.d/len". */
export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

/** True when `ip` lies within `c`. */
export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & prefixMask(c.prefix)) >>> 0) === c.network;
}

/** Broadcast address of a network. */
export function cidrBroadcast(c: Cidr): number {
  return (c.network | (~prefixMask(c.prefix) >>> 0)) >>> 0;
}

/** Number of addresses in the network (including network and broadcast). */
export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

/** True when two networks share any address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const m = prefixMask(p);
  return ((a.network & m) >>> 0) === ((b.network & m) >>> 0);
}
