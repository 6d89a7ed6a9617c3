import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { macToBytes } from "../wire/mod.ts";
import {
  ALL_NODES,
  ALL_ROUTERS,
  decodeRaFrame,
  decodeRsFrame,
  encodeRa,
  encodeRaFrame,
  encodeRsFrame,
  formatIpv6,
  icmpv6Checksum,
  INFINITE_LIFETIME,
  linkLocalFromMac,
  multicastMac,
  parseIpv6,
  parseIpv6Prefix,
  type RouterAdvertisement,
} from "./packet.ts";
import { advertisementOf } from "./advertiser.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const bytes = (h: string) =>
  new Uint8Array(h.replace(/\s+/g, "").match(/../g)!.map((x) => parseInt(x, 16)));

// Captured with `tcpdump -i h0 -w` on a veth pair in a network namespace
// (router side r0 = 52:54:00:aa:00:01 with fd6d:6573:6800::1/64, host side
// h0 = 52:54:00:aa:00:02): dnsmasq 2.90 `--enable-ra
// --dhcp-range=::,constructor:r0,ra-only`, Linux 6.x and rdisc6 (ndisc6 1.0.5).
// tcpdump -vv said "[icmp6 sum ok]" for every one.

/** Linux's RS as h0 came up: fe80::5054:ff:feaa:2 > ff02::2, source link-layer option. */
const LINUX_RS = bytes(`
  333300000002 525400aa0002 86dd
  60000000 0010 3a ff fe80000000000000505400fffeaa0002 ff020000000000000000000000000002
  85 00 d92d 00000000 0101525400aa0002`);

/** rdisc6's RS: no options. */
const RDISC6_RS = bytes(`
  333300000002 525400aa0002 86dd
  600769c8 0008 3a ff fe80000000000000505400fffeaa0002 ff020000000000000000000000000002
  85 00 2d37 00000000`);

/**
 * dnsmasq's unsolicited RA: fe80::5054:ff:feaa:1 > ff02::1, traffic class 0xc0,
 * hop limit 64, no flags, router lifetime 1800, prefix fd6d:6573:6800::/64 L A
 * with infinite lifetimes, MTU 1500, source link-layer 52:54:00:aa:00:01.
 */
const DNSMASQ_RA = bytes(`
  333300000001 525400aa0001 86dd
  6c00cb99 0040 3a ff fe80000000000000505400fffeaa0001 ff020000000000000000000000000001
  86 00 7775 40 00 0708 00000000 00000000
  0304 40 c0 ffffffff ffffffff 00000000 fd6d6573680000000000000000000000
  0501 0000 000005dc
  0101 525400aa0001`);

/** dnsmasq's answer to rdisc6's RS: the same RA unicast to fe80::5054:ff:feaa:2. */
const DNSMASQ_UNICAST_RA = bytes(`
  525400aa0002 525400aa0001 86dd
  6c068506 0040 3a ff fe80000000000000505400fffeaa0001 fe80000000000000505400fffeaa0002
  86 00 27f8 40 00 0708 00000000 00000000
  0304 40 c0 ffffffff ffffffff 00000000 fd6d6573680000000000000000000000
  0501 0000 000005dc
  0101 525400aa0001`);

const ROUTER_MAC = macToBytes("52:54:00:aa:00:01");
const HOST_MAC = macToBytes("52:54:00:aa:00:02");

/** What dnsmasq advertised, as our RA. */
const DNSMASQ_VALUES: RouterAdvertisement = {
  curHopLimit: 64,
  managed: false,
  other: false,
  routerLifetimeS: 1800,
  reachableTimeMs: 0,
  retransTimerMs: 0,
  sourceLinkLayer: ROUTER_MAC,
  mtu: 1500,
  prefixes: [{
    prefix: parseIpv6("fd6d:6573:6800::"),
    length: 64,
    onLink: true,
    autonomous: true,
    validLifetimeS: INFINITE_LIFETIME,
    preferredLifetimeS: INFINITE_LIFETIME,
  }],
};

Deno.test("ICMPv6 checksums of captured Linux, rdisc6 and dnsmasq frames verify", () => {
  for (const f of [LINUX_RS, RDISC6_RS, DNSMASQ_RA, DNSMASQ_UNICAST_RA]) {
    const plen = (f[18]! << 8) | f[19]!;
    const icmp = f.subarray(54, 54 + plen);
    assert.equal(icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), icmp), 0, hex(f));
    // and recomputing it over a zeroed field gives the captured value
    const copy = icmp.slice();
    copy[2] = copy[3] = 0;
    assert.equal(
      icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), copy),
      (icmp[2]! << 8) | icmp[3]!,
    );
  }
});

Deno.test("our RA with dnsmasq's values is dnsmasq's ICMPv6 message, checksum included", () => {
  const mine = encodeRaFrame(DNSMASQ_VALUES, {
    ethSrc: ROUTER_MAC,
    ethDst: multicastMac(ALL_NODES),
    src: linkLocalFromMac(ROUTER_MAC),
    dst: ALL_NODES,
  });
  // Ethernet header and ICMPv6 message equal; IPv6 differs only in dnsmasq's
  // traffic class / flow label (not covered by the checksum).
  assert.equal(hex(mine.subarray(0, 14)), hex(DNSMASQ_RA.subarray(0, 14)));
  assert.equal(hex(mine.subarray(18)), hex(DNSMASQ_RA.subarray(18)));
  assert.equal(hex(mine.subarray(14, 18)), "60000000");
  assert.equal(hex(mine.subarray(54, 58)), "86007775");
  const unicast = encodeRaFrame(DNSMASQ_VALUES, {
    ethSrc: ROUTER_MAC,
    ethDst: HOST_MAC,
    src: linkLocalFromMac(ROUTER_MAC),
    dst: linkLocalFromMac(HOST_MAC),
  });
  assert.equal(hex(unicast.subarray(18)), hex(DNSMASQ_UNICAST_RA.subarray(18)));
});

Deno.test("decodeRaFrame reads dnsmasq's RA", () => {
  const d = decodeRaFrame(DNSMASQ_RA)!;
  assert.equal(formatIpv6(d.addresses.src), "fe80::5054:ff:feaa:1");
  assert.equal(formatIpv6(d.addresses.dst), "ff02::1");
  assert.deepEqual({ ...d.ra, prefixes: [] }, { ...DNSMASQ_VALUES, prefixes: [] });
  assert.equal(d.ra.prefixes.length, 1);
  assert.equal(formatIpv6(d.ra.prefixes[0]!.prefix), "fd6d:6573:6800::");
  assert.deepEqual(d.ra.prefixes[0], DNSMASQ_VALUES.prefixes[0]);
  assert.equal(decodeRaFrame(LINUX_RS), null);
});

Deno.test("mesh's default RA: hop limit 64, M=O=0, router lifetime 0, source link-layer only", () => {
  const mac = "52:54:00:aa:00:01";
  const ra = advertisementOf({ mac });
  const f = encodeRaFrame(ra, {
    ethSrc: ROUTER_MAC,
    ethDst: multicastMac(ALL_NODES),
    src: linkLocalFromMac(ROUTER_MAC),
    dst: ALL_NODES,
  });
  assert.equal(
    hex(f),
    "333300000001525400aa000186dd" +
      "60000000" + "0018" + "3a" + "ff" + "fe80000000000000505400fffeaa0001" +
      "ff020000000000000000000000000001" +
      // type code checksum | hop 64 | flags 0 | lifetime 0 | reachable 0 | retrans 0
      "8600" + hex(f.subarray(56, 58)) + "40" + "00" + "0000" + "00000000" + "00000000" +
      "0101525400aa0001",
  );
  assert.equal(icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), f.subarray(54)), 0);
  assert.deepEqual(decodeRaFrame(f)!.ra, ra);
  // with a prefix and an MTU: PIO with radvd's lifetimes, then MTU
  const withPrefix = advertisementOf({ mac, prefix: "fd6d:6573:6800:1::/64", mtu: 1500 });
  assert.deepEqual(withPrefix.prefixes, [{
    prefix: parseIpv6("fd6d:6573:6800:1::"),
    length: 64,
    onLink: true,
    autonomous: true,
    validLifetimeS: 86400,
    preferredLifetimeS: 14400,
  }]);
  const body = encodeRa(withPrefix);
  assert.equal(
    hex(body.subarray(16)),
    "0304" + "40" + "c0" + "00015180" + "00003840" + "00000000" +
      "fd6d6573680000010000000000000000" +
      "0501" + "0000" + "000005dc" + "0101525400aa0001",
  );
  assert.equal(advertisementOf({ mac, lifetimeS: 1800 }).routerLifetimeS, 1800);
});

Deno.test("RS: Linux's (with link-layer option) and rdisc6's (without) decode", () => {
  const a = decodeRsFrame(LINUX_RS);
  assert.equal(a.kind, "rs");
  if (a.kind !== "rs") return;
  assert.equal(formatIpv6(a.rs.src), "fe80::5054:ff:feaa:2");
  assert.equal(formatIpv6(a.rs.dst), "ff02::2");
  assert.deepEqual(a.rs.sourceLinkLayer, HOST_MAC);
  assert.deepEqual(a.rs.ethSrc, HOST_MAC);
  const b = decodeRsFrame(RDISC6_RS);
  assert.equal(b.kind, "rs");
  if (b.kind === "rs") assert.equal(b.rs.sourceLinkLayer, undefined);
  // our encoder makes Linux's frame
  assert.equal(hex(encodeRsFrame(HOST_MAC, linkLocalFromMac(HOST_MAC))), hex(LINUX_RS));
  // from :: there is no link-layer option
  const anon = encodeRsFrame(HOST_MAC, new Uint8Array(16));
  assert.equal(anon.length, 62);
  const d = decodeRsFrame(anon);
  assert.ok(d.kind === "rs" && d.rs.sourceLinkLayer === undefined);
});

Deno.test("RS validation: hop limit, checksum, code, lengths, options are DecodeErrors", () => {
  const broken = (edit: (f: Uint8Array) => void, fix = true) => {
    const f = LINUX_RS.slice();
    edit(f);
    if (fix) {
      f[56] = f[57] = 0;
      const plen = (f[18]! << 8) | f[19]!;
      const s = icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), f.subarray(54, 54 + plen));
      f[56] = s >>> 8;
      f[57] = s & 0xff;
    }
    return f;
  };
  const cases: [string, Uint8Array][] = [
    ["hop limit 64", broken((f) => f[21] = 64)],
    ["bad checksum", broken((f) => f[60] = 1, false)],
    ["code 1", broken((f) => f[55] = 1)],
    ["option length 0", broken((f) => f[63] = 0)],
    ["option past the end", broken((f) => f[63] = 2)],
    ["payload length past the frame", broken((f) => f[19] = 0x20)],
    ["RS shorter than 8", broken((f) => f[19] = 4)],
    ["version 4 in an IPv6 frame", broken((f) => f[14] = 0x40)],
    ["truncated IPv6 header", LINUX_RS.slice(0, 40)],
    ["truncated Ethernet header", LINUX_RS.slice(0, 10)],
    ["link-layer option from ::", broken((f) => f.fill(0, 22, 38))],
  ];
  for (const [what, f] of cases) {
    assert.throws(() => decodeRsFrame(f), DecodeError, what);
  }
  // padding past the payload length is ignored
  const padded = new Uint8Array(LINUX_RS.length + 10);
  padded.set(LINUX_RS);
  assert.equal(decodeRsFrame(padded).kind, "rs");
});

Deno.test("frames that are not an RS are ignored, with the reason", () => {
  const arp = new Uint8Array(42);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.deepEqual(decodeRsFrame(arp), { kind: "ignore", reason: "not-ipv6" });
  const udp = LINUX_RS.slice();
  udp[20] = 17;
  assert.deepEqual(decodeRsFrame(udp), { kind: "ignore", reason: "not-icmpv6" });
  assert.deepEqual(decodeRsFrame(DNSMASQ_RA), { kind: "ignore", reason: "not-rs" });
});

Deno.test("IPv6 text: parse, format (RFC 5952), prefixes, EUI-64 link-local", () => {
  for (
    const [text, norm] of [
      ["::", "::"],
      ["::1", "::1"],
      ["fe80::5054:ff:feaa:1", "fe80::5054:ff:feaa:1"],
      ["FD6D:6573:6800:0:0:0:0:1", "fd6d:6573:6800::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["ff02::2", "ff02::2"],
    ]
  ) assert.equal(formatIpv6(parseIpv6(text!)), norm, text);
  for (
    const bad of ["", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "12345::", "g::"]
  ) {
    assert.throws(() => parseIpv6(bad), RangeError, bad);
  }
  assert.throws(() => parseIpv6("1:2:3:4:5:6:7:8::"), RangeError);
  const p = parseIpv6Prefix("fd6d:6573:6800:1:2::/56");
  assert.equal(formatIpv6(p.prefix), "fd6d:6573:6800::");
  assert.equal(p.length, 56);
  assert.equal(formatIpv6(parseIpv6Prefix("fd6d:6573:6800:1:2::/60").prefix), "fd6d:6573:6800::");
  for (const bad of ["fd00::", "fd00::/129", "fd00::/a", "fd00::/64/1"]) {
    assert.throws(() => parseIpv6Prefix(bad), RangeError, bad);
  }
  // Linux in the lab namespaces: 46:cb:8b:ed:bb:87 has fe80::44cb:8bff:feed:bb87
  assert.equal(
    formatIpv6(linkLocalFromMac(macToBytes("46:cb:8b:ed:bb:87"))),
    "fe80::44cb:8bff:feed:bb87",
  );
  assert.equal(hex(multicastMac(ALL_ROUTERS)), "333300000002");
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (a) => {
    assert.deepEqual(parseIpv6(formatIpv6(a)), a);
  }));
});

Deno.test("encodeRa refuses values that do not fit their fields", () => {
  const base = advertisementOf({ mac: "52:54:00:aa:00:01", prefix: "fd00::/64" });
  for (
    const bad of [
      { ...base, routerLifetimeS: 65536 },
      { ...base, curHopLimit: 256 },
      { ...base, reachableTimeMs: -1 },
      { ...base, mtu: 1000 },
      { ...base, prefixes: [{ ...base.prefixes[0]!, preferredLifetimeS: 2, validLifetimeS: 1 }] },
      { ...base, prefixes: [{ ...base.prefixes[0]!, length: 129 }] },
    ]
  ) assert.throws(() => encodeRa(bad), RangeError);
});

Deno.test("random frames: decoding throws nothing but DecodeError", () => {
  const only = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  };
  // anything at all
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      only(() => decodeRsFrame(b));
      only(() => decodeRaFrame(b));
    }),
    { numRuns: 2000 },
  );
  // IPv6 / ICMPv6 RS and RA headers with random rest, and mutations of real frames
  const shaped = fc.tuple(
    fc.constantFrom(133, 134),
    fc.uint8Array({ minLength: 0, maxLength: 120 }),
    fc.nat({ max: 200 }),
  ).map(([type, rest, plen]) => {
    const f = new Uint8Array(54 + rest.length);
    f.set(LINUX_RS.subarray(0, 54));
    f.set(rest, 54);
    if (rest.length > 0) f[54] = type;
    f[18] = plen >>> 8;
    f[19] = plen & 0xff;
    return f;
  });
  const mutated = fc.tuple(
    fc.constantFrom(LINUX_RS, RDISC6_RS, DNSMASQ_RA, DNSMASQ_UNICAST_RA),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    fc.nat({ max: 130 }),
  ).map(([f, edits, cut]) => {
    const c = f.slice(0, Math.max(0, f.length - (cut % (f.length + 1))));
    for (const [i, v] of edits) if (c.length > 0) c[i % c.length] = v;
    return c;
  });
  fc.assert(
    fc.property(fc.oneof(shaped, mutated), (b) => {
      only(() => decodeRsFrame(b));
      only(() => decodeRaFrame(b));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("encode/decode round trip for any RA that fits", () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const prefix = fc.record({
    prefix: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    length: fc.integer({ min: 0, max: 128 }),
    onLink: fc.boolean(),
    autonomous: fc.boolean(),
    validLifetimeS: u32,
    preferredLifetimeS: u32,
  }).map((p) => ({
    ...p,
    preferredLifetimeS: Math.min(p.preferredLifetimeS, p.validLifetimeS),
    prefix: parseIpv6Prefix(`${formatIpv6(p.prefix)}/${p.length}`).prefix,
  }));
  fc.assert(fc.property(
    fc.record({
      curHopLimit: fc.integer({ min: 0, max: 255 }),
      managed: fc.boolean(),
      other: fc.boolean(),
      routerLifetimeS: fc.integer({ min: 0, max: 0xffff }),
      reachableTimeMs: u32,
      retransTimerMs: u32,
      mac: fc.uint8Array({ minLength: 6, maxLength: 6 }),
      mtu: fc.option(fc.integer({ min: 1280, max: 0xffffffff }), { nil: undefined }),
      prefixes: fc.array(prefix, { maxLength: 3 }),
    }),
    ({ mac, mtu, ...rest }) => {
      const ra: RouterAdvertisement = {
        ...rest,
        sourceLinkLayer: mac,
        ...(mtu !== undefined ? { mtu } : {}),
      };
      const f = encodeRaFrame(ra, {
        ethSrc: mac,
        ethDst: multicastMac(ALL_NODES),
        src: linkLocalFromMac(mac),
        dst: ALL_NODES,
      });
      assert.deepEqual(decodeRaFrame(f)!.ra, ra);
    },
  ));
});
