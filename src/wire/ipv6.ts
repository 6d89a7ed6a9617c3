/**
 * @module
 * IPv6 addresses as 16-byte arrays (pure): parsing and RFC 5952 formatting,
 * prefixes, the EUI-64 link-local address of a MAC and the Ethernet group
 * address of a multicast group.
 */

/** An address from its eight 16-bit groups. */
export function ipv6Bytes(groups: readonly number[]): Uint8Array {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[i * 2] = g >>> 8;
    b[i * 2 + 1] = g & 0xff;
  });
  return b;
}

/** Parses an IPv6 address ("fd00::1", "fe80::5054:ff:fe00:1"; no embedded IPv4, no zone). */
export function parseIpv6(text: string): Uint8Array {
  const bad = () => new RangeError(`Cannot parse IPv6 address "${text}"`);
  const halves = text.trim().toLowerCase().split("::");
  if (halves.length > 2) throw bad();
  const groups = (s: string) => s === "" ? [] : s.split(":");
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) throw bad();
  const all = [...head, ...Array<string>(halves.length === 2 ? fill : 0).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) throw bad();
  return ipv6Bytes(all.map((g) => parseInt(g, 16)));
}

/** Formats 16 bytes per RFC 5952 (lower case, longest zero run as "::"). */
export function formatIpv6(b: Uint8Array): string {
  const g = Array.from({ length: 8 }, (_, i) => (b[i * 2]! << 8) | b[i * 2 + 1]!);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Parses "fd6d:6573:6800::/64"; the host bits are cleared. */
export function parseIpv6Prefix(text: string): { prefix: Uint8Array; length: number } {
  const [addr, len, more] = text.split("/");
  const length = Number(len);
  if (more !== undefined || !/^\d{1,3}$/.test(len ?? "") || length > 128) {
    throw new RangeError(`Cannot parse IPv6 prefix "${text}": expected address/length`);
  }
  return { prefix: maskPrefix(parseIpv6(addr!), length), length };
}

/** `p` with the bits after `length` cleared. */
export function maskPrefix(p: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = (p[i] ?? 0) & ((0xff00 >>> bits) & 0xff);
  }
  return out;
}

/** The modified EUI-64 link-local address of a MAC (fe80::/64, RFC 4291 App. A). */
export function linkLocalFromMac(mac: Uint8Array): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = 0xfe;
  b[1] = 0x80;
  b.set([mac[0]! ^ 0x02, mac[1]!, mac[2]!, 0xff, 0xfe, mac[3]!, mac[4]!, mac[5]!], 8);
  return b;
}

/** The Ethernet multicast address of an IPv6 multicast group (33:33 + its last 32 bits). */
export function multicastMac(group: Uint8Array): Uint8Array {
  return new Uint8Array([0x33, 0x33, group[12]!, group[13]!, group[14]!, group[15]!]);
}

/** fe80::/10. */
export function isLinkLocal(a: Uint8Array): boolean {
  return a[0] === 0xfe && (a[1]! & 0xc0) === 0x80;
}

/** ::. */
export function isUnspecified(a: Uint8Array): boolean {
  return a.every((x) => x === 0);
}
