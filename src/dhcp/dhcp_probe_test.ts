import assert from "node:assert/strict";
import fc from "fast-check";
import { formatCidr, formatIpv4, macToBytes, parseIpv4 } from "../wire/mod.ts";
import {
  decodePacket,
  type DhcpPacket,
  encodePacket,
  FLAG_BROADCAST,
  getClientIdHex,
  getMessageType,
  getParameterRequestList,
  ipListValue,
  ipValue,
  MessageType,
  Op,
  Opt,
  PROBE_PARAMETERS,
  probeDiscover,
  ProbeIgnore,
  type ProbeIgnoreReason,
  probeMac,
  type ProbeOffer,
  readOffer,
  readOfferBytes,
  summarize,
  textValue,
  u32Value,
  u8Value,
} from "./mod.ts";

const IFACE = "52:54:00:12:34:56";
const MAC = probeMac(IFACE);
const XID = 0x1234abcd;
const EXPECT = { xid: XID, mac: MAC } as const;
const FRAME = { srcMac: "02:00:00:00:00:01", srcIp: parseIpv4("10.50.0.1") } as const;
const ip = parseIpv4;

/** A well-formed OFFER to the probe, changed by `edit`. */
function offer(edit: (p: Mutable) => void = () => {}): DhcpPacket {
  const options = new Map<number, Uint8Array>([
    [Opt.MessageType, u8Value(MessageType.Offer)],
    [Opt.ServerIdentifier, ipValue(ip("10.50.0.1"))],
    [Opt.SubnetMask, ipValue(ip("255.255.255.0"))],
    [Opt.Router, ipListValue([ip("10.50.0.254")])],
    [Opt.DomainNameServer, ipListValue([ip("10.50.0.53"), ip("10.50.0.54")])],
    [Opt.IpAddressLeaseTime, u32Value(3600)],
  ]);
  const p: Mutable = {
    ...probeDiscover(MAC, XID),
    op: Op.BootReply,
    yiaddr: ip("10.50.0.120"),
    options,
  };
  edit(p);
  return p;
}
type Mutable = { -readonly [K in keyof DhcpPacket]: DhcpPacket[K] } & {
  options: Map<number, Uint8Array>;
};

Deno.test("probeMac() is locally administered, unicast, stable and never the interface's", () => {
  for (
    const m of [
      IFACE,
      "00:1b:21:aa:bb:cc",
      "02:00:00:00:00:01",
      "ff:ff:ff:ff:ff:ff",
      "06:00:00:00:00:00",
    ]
  ) {
    const p = probeMac(m);
    const first = macToBytes(p)[0]!;
    assert.equal(first & 0x02, 0x02, p);
    assert.equal(first & 0x01, 0, p);
    assert.notEqual(p, m);
    assert.equal(probeMac(m.toUpperCase()), p, "stable whatever the spelling");
    assert.equal(p.slice(2), m.slice(2), "the rest still names the port");
  }
  fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (b) => {
    const m = [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
    const p = probeMac(m);
    return p !== m && (macToBytes(p)[0]! & 0x03) === 0x02 && probeMac(m) === p;
  }));
});

Deno.test("probeDiscover() asks like a plain client: broadcast, option 55 and 61, no PXE options", () => {
  const bytes = encodePacket(probeDiscover(MAC, XID, 2.7));
  const p = decodePacket(bytes);
  assert.equal(p.op, Op.BootRequest);
  assert.equal(p.xid, XID);
  assert.equal(p.secs, 2);
  assert.equal(p.flags & FLAG_BROADCAST, FLAG_BROADCAST);
  assert.equal(p.ciaddr, 0);
  assert.equal(getMessageType(p.options), MessageType.Discover);
  assert.deepEqual(getParameterRequestList(p.options), [...PROBE_PARAMETERS]);
  assert.deepEqual(getParameterRequestList(p.options), [1, 3, 6, 15, 51, 54]);
  assert.equal(getClientIdHex(p.options), "01" + MAC.replaceAll(":", ""));
  for (const code of [Opt.VendorClassIdentifier, Opt.ClientSystemArchitecture, 50, 54]) {
    assert.equal(p.options.has(code), false, `option ${code}`);
  }
});

Deno.test("readOffer() accepts a full offer and reads every field", () => {
  const r = readOffer(offer(), FRAME, EXPECT);
  assert.ok(!("ignore" in r), JSON.stringify(r));
  assert.equal(formatIpv4(r.serverId), "10.50.0.1");
  assert.equal(r.serverMac, FRAME.srcMac);
  assert.equal(formatIpv4(r.yiaddr), "10.50.0.120");
  assert.equal(formatCidr(r.subnet!), "10.50.0.0/24");
  assert.equal(r.maskAssumed, false);
  assert.deepEqual(r.routers.map(formatIpv4), ["10.50.0.254"]);
  assert.deepEqual(r.dns.map(formatIpv4), ["10.50.0.53", "10.50.0.54"]);
  assert.equal(r.leaseTime, 3600);
  assert.equal(r.proxy, false);
});

Deno.test("readOffer(): what the offer leaves out", async (t) => {
  const cases: {
    name: string;
    edit: (p: Mutable) => void;
    check: (o: ProbeOffer) => void;
  }[] = [
    {
      name: "no option 54: the IP source is the server",
      edit: (p) => p.options.delete(Opt.ServerIdentifier),
      check: (o) => assert.equal(o.serverId, FRAME.srcIp),
    },
    {
      name: "option 54 of 0.0.0.0: the IP source too",
      edit: (p) => p.options.set(Opt.ServerIdentifier, ipValue(0)),
      check: (o) => assert.equal(o.serverId, FRAME.srcIp),
    },
    {
      name: "no option 1, class A: /8, flagged",
      edit: (p) => p.options.delete(Opt.SubnetMask),
      check: (o) => {
        assert.equal(formatCidr(o.subnet!), "10.0.0.0/8");
        assert.equal(o.maskAssumed, true);
      },
    },
    {
      name: "no option 1, class C: /24, flagged",
      edit: (p) => {
        p.options.delete(Opt.SubnetMask);
        p.yiaddr = ip("192.168.7.9");
      },
      check: (o) =>
        assert.deepEqual([formatCidr(o.subnet!), o.maskAssumed], ["192.168.7.0/24", true]),
    },
    {
      name: "no router, DNS or lease time",
      edit: (p) =>
        [Opt.Router, Opt.DomainNameServer, Opt.IpAddressLeaseTime].forEach((c) =>
          p.options.delete(c)
        ),
      check: (o) => assert.deepEqual([o.routers, o.dns, o.leaseTime], [[], [], null]),
    },
    {
      name: "a /32 (cloud style) is an address, not a network",
      edit: (p) => p.options.set(Opt.SubnetMask, ipValue(0xffffffff)),
      check: (o) => assert.equal(formatCidr(o.subnet!), "10.50.0.120/32"),
    },
    {
      name: "proxyDHCP: yiaddr 0 with PXEClient",
      edit: (p) => {
        p.yiaddr = 0;
        p.options.set(Opt.VendorClassIdentifier, textValue("PXEClient"));
        p.options.delete(Opt.SubnetMask);
      },
      check: (o) => assert.deepEqual([o.proxy, o.subnet, o.yiaddr], [true, null, 0]),
    },
    {
      name: "a full server that also does PXE is an address server",
      edit: (p) => p.options.set(Opt.VendorClassIdentifier, textValue("PXEClient")),
      check: (o) => assert.equal(o.proxy, false),
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const r = readOffer(offer(c.edit), FRAME, EXPECT);
      assert.ok(!("ignore" in r), JSON.stringify(r));
      c.check(r);
    });
  }
});

Deno.test("readOffer(): every ignore reason", async (t) => {
  const cases: { name: string; reason: ProbeIgnoreReason; edit: (p: Mutable) => void }[] = [
    { name: "a BOOTREQUEST", reason: "not-reply", edit: (p) => void (p.op = Op.BootRequest) },
    {
      name: "BOOTP reply without option 53",
      reason: "no-message-type",
      edit: (p) => p.options.delete(Opt.MessageType),
    },
    {
      name: "option 53 of two bytes",
      reason: "no-message-type",
      edit: (p) => p.options.set(Opt.MessageType, new Uint8Array([2, 2])),
    },
    {
      name: "an ACK",
      reason: "not-offer",
      edit: (p) => p.options.set(Opt.MessageType, u8Value(MessageType.Ack)),
    },
    {
      name: "a NAK",
      reason: "not-offer",
      edit: (p) => p.options.set(Opt.MessageType, u8Value(MessageType.Nak)),
    },
    { name: "another xid", reason: "wrong-xid", edit: (p) => void (p.xid = XID + 1) },
    {
      name: "another chaddr",
      reason: "wrong-chaddr",
      edit: (p) => void (p.chaddr = Uint8Array.from([...macToBytes(IFACE), ...new Uint8Array(10)])),
    },
    { name: "hlen 16", reason: "wrong-chaddr", edit: (p) => void (p.hlen = 16) },
    { name: "not Ethernet", reason: "wrong-chaddr", edit: (p) => void (p.htype = 6) },
    {
      name: "a short chaddr",
      reason: "wrong-chaddr",
      edit: (p) => void (p.chaddr = new Uint8Array(3)),
    },
    {
      name: "mask 255.0.255.0",
      reason: "bad-mask",
      edit: (p) => p.options.set(Opt.SubnetMask, ipValue(ip("255.0.255.0"))),
    },
    {
      name: "mask 0.0.0.0",
      reason: "bad-mask",
      edit: (p) => p.options.set(Opt.SubnetMask, ipValue(0)),
    },
    {
      name: "mask of three bytes",
      reason: "bad-mask",
      edit: (p) => p.options.set(Opt.SubnetMask, new Uint8Array([255, 255, 255])),
    },
    { name: "yiaddr 0 without PXEClient", reason: "no-address", edit: (p) => void (p.yiaddr = 0) },
    {
      name: "yiaddr 0 with another vendor class",
      reason: "no-address",
      edit: (p) => {
        p.yiaddr = 0;
        p.options.set(Opt.VendorClassIdentifier, textValue("HTTPClient"));
      },
    },
    {
      name: "yiaddr loopback",
      reason: "bad-address",
      edit: (p) => void (p.yiaddr = ip("127.0.0.5")),
    },
    {
      name: "yiaddr multicast",
      reason: "bad-address",
      edit: (p) => void (p.yiaddr = ip("224.0.0.1")),
    },
    {
      name: "yiaddr 255.255.255.255",
      reason: "bad-address",
      edit: (p) => void (p.yiaddr = 0xffffffff),
    },
    { name: "yiaddr in 0/8", reason: "bad-address", edit: (p) => void (p.yiaddr = ip("0.1.2.3")) },
    {
      name: "the network address",
      reason: "bad-address",
      edit: (p) => void (p.yiaddr = ip("10.50.0.0")),
    },
    {
      name: "the broadcast address",
      reason: "bad-address",
      edit: (p) => void (p.yiaddr = ip("10.50.0.255")),
    },
  ];
  const seen = new Set<string>();
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepEqual(readOffer(offer(c.edit), FRAME, EXPECT), { ignore: c.reason });
      seen.add(c.reason);
    });
  }
  await t.step("no server id and no IP source", () => {
    const p = offer((p) => p.options.delete(Opt.ServerIdentifier));
    assert.deepEqual(readOffer(p, { ...FRAME, srcIp: 0 }, EXPECT), { ignore: "no-server-id" });
    seen.add("no-server-id");
  });
  await t.step("bytes that do not decode are malformed", () => {
    const good = encodePacket(offer());
    const broken: Uint8Array[] = [
      new Uint8Array(0),
      good.subarray(0, 100), // truncated header
      good.subarray(0, 239), // cookie cut
      Uint8Array.from(good, (b, i) => (i === 236 ? 0 : b)), // bad cookie
      Uint8Array.from(good, (b, i) => (i === 0 ? 7 : b)), // unknown op
      Uint8Array.from([...good.subarray(0, 240), 53, 9, 2]), // option longer than the packet
      Uint8Array.from([...good.subarray(0, 240), 54, 2, 10, 0, 255]), // option 54 of 2 bytes
      crypto.getRandomValues(new Uint8Array(300)),
    ];
    for (const b of broken) {
      const r = readOfferBytes(b, FRAME, EXPECT);
      // Random bytes almost never carry the cookie; a lucky one still must not throw.
      if (b.length === 300) assert.ok("ignore" in r);
      else assert.deepEqual(r, { ignore: "malformed" }, `${b.length} bytes`);
    }
    seen.add("malformed");
  });
  await t.step("the table covers every reason", () => {
    assert.deepEqual([...seen].sort(), Object.values(ProbeIgnore).sort());
  });
});

Deno.test("readOfferBytes() reads an encoded offer like readOffer()", () => {
  assert.deepEqual(
    readOfferBytes(encodePacket(offer()), FRAME, EXPECT),
    readOffer(offer(), FRAME, EXPECT),
  );
});

Deno.test("readOffer() and readOfferBytes() never throw", () => {
  const codes = [1, 3, 6, 51, 53, 54, 60, 0, 255, 52, 99];
  const optionsArb = fc.array(
    fc.tuple(fc.constantFrom(...codes), fc.uint8Array({ maxLength: 8 })),
    { maxLength: 8 },
  );
  const packetArb = fc.record({
    op: fc.integer({ min: 0, max: 3 }),
    htype: fc.constantFrom(1, 6, 0),
    hlen: fc.constantFrom(6, 0, 16, 255),
    xid: fc.constantFrom(XID, 0, 0xffffffff),
    yiaddr: fc.oneof(fc.constant(0), fc.nat({ max: 0xffffffff })),
    chaddr: fc.oneof(fc.constant(probeDiscover(MAC, XID).chaddr), fc.uint8Array({ maxLength: 20 })),
    options: optionsArb,
    srcIp: fc.nat({ max: 0xffffffff }),
  });
  fc.assert(
    fc.property(packetArb, (a) => {
      const p: DhcpPacket = {
        ...probeDiscover(MAC, XID),
        op: a.op,
        htype: a.htype,
        hlen: a.hlen,
        xid: a.xid,
        yiaddr: a.yiaddr,
        chaddr: a.chaddr,
        options: new Map(a.options),
      };
      const r = readOffer(p, { srcMac: FRAME.srcMac, srcIp: a.srcIp }, EXPECT);
      return typeof r === "object";
    }),
    { numRuns: 2000 },
  );
  // Raw bytes behind a valid header and cookie, so the option parser sees the garbage.
  const header = encodePacket(offer()).subarray(0, 240);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (tail, whole) => {
      const b = whole ? tail : Uint8Array.from([...header, ...tail]);
      const r = readOfferBytes(b, FRAME, EXPECT);
      return typeof r === "object";
    }),
    { numRuns: 2000 },
  );
});

Deno.test("summarize(): servers by (serverId, MAC), their subnets, found only for address servers", () => {
  const a = readOffer(offer(), FRAME, EXPECT) as ProbeOffer;
  const a2 = readOffer(
    offer((p) => void (p.yiaddr = ip("10.50.0.121"))),
    FRAME,
    EXPECT,
  ) as ProbeOffer;
  const bFrame = { srcMac: "02:00:00:00:00:02", srcIp: ip("10.51.0.1") };
  const b = readOffer(
    offer((p) => {
      p.yiaddr = ip("10.51.0.77");
      p.options.set(Opt.ServerIdentifier, ipValue(ip("10.51.0.1")));
      p.options.set(Opt.SubnetMask, ipValue(ip("255.255.0.0")));
    }),
    bFrame,
    EXPECT,
  ) as ProbeOffer;
  const proxy = readOffer(
    offer((p) => {
      p.yiaddr = 0;
      p.options.set(Opt.ServerIdentifier, ipValue(ip("10.52.0.1")));
      p.options.set(Opt.VendorClassIdentifier, textValue("PXEClient"));
    }),
    { srcMac: "02:00:00:00:00:03", srcIp: ip("10.52.0.1") },
    EXPECT,
  ) as ProbeOffer;

  const s = summarize([a, b, a, a2, proxy]);
  assert.equal(s.found, true);
  assert.deepEqual(s.servers.map((x) => [formatIpv4(x.serverId), x.serverMac, x.offers, x.proxy]), [
    ["10.50.0.1", FRAME.srcMac, 3, false],
    ["10.51.0.1", bFrame.srcMac, 1, false],
    ["10.52.0.1", "02:00:00:00:00:03", 1, true],
  ]);
  assert.deepEqual(s.servers[0]!.offered.map(formatIpv4), ["10.50.0.120", "10.50.0.121"]);
  assert.deepEqual(s.servers[0]!.subnets.map(formatCidr), ["10.50.0.0/24"]);
  assert.deepEqual(s.servers[2]!.subnets, []);
  assert.deepEqual(s.subnets.map(formatCidr), ["10.50.0.0/24", "10.51.0.0/16"]);

  // The same server id behind another MAC (a failover pair, a relay) is another server.
  assert.equal(summarize([a, { ...a, serverMac: "02:00:00:00:00:09" }]).servers.length, 2);
  assert.deepEqual(summarize([proxy]), {
    found: false,
    servers: [{ ...summarize([proxy]).servers[0]! }],
    subnets: [],
  });
  assert.deepEqual(summarize([]), { found: false, servers: [], subnets: [] });
});
