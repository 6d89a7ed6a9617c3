import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { concatBytes, parseIpv4 } from "../wire/mod.ts";
import {
  decodeAddr,
  decodeDone,
  decodeError,
  decodeLink,
  encodeDelAddr,
  encodeGetAddr,
  encodeGetLink,
  encodeNewAddr,
  linkInfoOf,
  NETLINK,
  type NlMessage,
  operstateName,
  parseAttrs,
  parseMessages,
  parseSpeed,
  RTNL,
} from "./netlink.ts";
import { joinInterfaces } from "./interfaces.ts";

/** Hex bytes with `//` comments and any whitespace. */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\/\/.*$/gm, "").replace(/\s+/g, "");
  return new Uint8Array(digits.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** A dump's RTM_NEWLINK for a veth enslaved to a bridge (little-endian, as on x86-64). */
const NEWLINK_VETH = hex(`
  68 00 00 00  // nlmsg_len 104
  10 00        // RTM_NEWLINK
  02 00        // NLM_F_MULTI
  07 00 00 00  // nlmsg_seq 7
  d2 04 00 00  // nlmsg_pid 1234
  00 00        // ifi_family AF_UNSPEC, pad
  01 00        // ifi_type ARPHRD_ETHER
  03 00 00 00  // ifi_index 3
  43 10 01 00  // ifi_flags UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
  00 00 00 00  // ifi_change
  0a 00 03 00  76 65 74 68 30 00 00 00  // IFLA_IFNAME "veth0" (10, padded to 12)
  08 00 04 00  dc 05 00 00              // IFLA_MTU 1500
  0a 00 01 00  02 aa bb cc dd ee 00 00  // IFLA_ADDRESS 02:aa:bb:cc:dd:ee
  05 00 10 00  06 00 00 00              // IFLA_OPERSTATE IF_OPER_UP
  05 00 21 00  01 00 00 00              // IFLA_CARRIER 1
  08 00 0a 00  04 00 00 00              // IFLA_MASTER 4
  10 00 12 80                           // IFLA_LINKINFO | NLA_F_NESTED
  09 00 01 00  76 65 74 68 00 00 00 00  //   IFLA_INFO_KIND "veth"
`);

/** RTM_NEWADDR for 10.81.0.1/24 brd 10.81.0.255 on ifindex 3. */
const NEWADDR = hex(`
  44 00 00 00  14 00  02 00  08 00 00 00  d2 04 00 00  // len 68, RTM_NEWADDR, MULTI, seq 8
  02 18 80 00  // AF_INET, /24, IFA_F_PERMANENT, RT_SCOPE_UNIVERSE
  03 00 00 00  // ifa_index 3
  08 00 01 00  0a 51 00 01              // IFA_ADDRESS 10.81.0.1
  08 00 02 00  0a 51 00 01              // IFA_LOCAL 10.81.0.1
  08 00 04 00  0a 51 00 ff              // IFA_BROADCAST 10.81.0.255
  0a 00 03 00  76 65 74 68 30 00 00 00  // IFA_LABEL "veth0"
  08 00 08 00  80 00 00 00              // IFA_FLAGS IFA_F_PERMANENT
`);

/** The end of a dump, status 0. */
const DONE = hex(`14 00 00 00  03 00  02 00  07 00 00 00  d2 04 00 00  00 00 00 00`);

/** An ack (errno 0), capped: only the request's header is echoed. */
const ACK = hex(`
  24 00 00 00  02 00  00 01  09 00 00 00  d2 04 00 00  // len 36, NLMSG_ERROR, NLM_F_CAPPED, seq 9
  00 00 00 00                                          // error 0
  30 00 00 00  14 00  05 06  09 00 00 00  00 00 00 00  // echoed RTM_NEWADDR header
`);

/** ENODEV with an extended-ack message, capped. */
const ENODEV_EXTACK = hex(`
  38 00 00 00  02 00  00 03  0a 00 00 00  d2 04 00 00  // len 56, NLMSG_ERROR, CAPPED|ACK_TLVS
  ed ff ff ff                                          // error -19
  30 00 00 00  14 00  05 06  0a 00 00 00  00 00 00 00  // echoed header
  13 00 01 00  6e 6f 20 73 75 63 68 20 64 65 76 69 63 65 00 00  // NLMSGERR_ATTR_MSG "no such device"
`);

function only(buf: Uint8Array): NlMessage {
  const msgs = parseMessages(buf);
  assert.equal(msgs.length, 1);
  return msgs[0]!;
}

/** Runs `f` and fails unless it returns or throws DecodeError (never RangeError & co). */
function decodesOrRefuses(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof DecodeError, `not a DecodeError: ${e}`);
  }
}

Deno.test("parseMessages splits a datagram holding several messages, ending in NLMSG_DONE", () => {
  const msgs = parseMessages(concatBytes([NEWLINK_VETH, NEWADDR, DONE]));
  assert.deepEqual(msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.payload.length]), [
    [RTNL.RTM_NEWLINK, NETLINK.NLM_F_MULTI, 7, 1234, 88],
    [RTNL.RTM_NEWADDR, NETLINK.NLM_F_MULTI, 8, 1234, 52],
    [NETLINK.NLMSG_DONE, NETLINK.NLM_F_MULTI, 7, 1234, 4],
  ]);
  assert.equal(decodeDone(msgs[2]!), 0);
  assert.deepEqual(parseMessages(new Uint8Array(0)), []);
});

Deno.test("decodeLink reads ifinfomsg, flags and IFLA_* (nested IFLA_INFO_KIND included)", () => {
  const l = decodeLink(only(NEWLINK_VETH).payload);
  assert.equal(l.family, RTNL.AF_UNSPEC);
  assert.equal(l.type, RTNL.ARPHRD_ETHER);
  assert.equal(l.ifindex, 3);
  assert.equal(l.flags, 0x11043);
  assert.equal(l.name, "veth0");
  assert.equal(l.mtu, 1500);
  assert.equal(l.operstate, 6);
  assert.equal(l.carrier, true);
  assert.equal(l.master, 4);
  assert.equal(l.kind, "veth");
  assert.deepEqual(linkInfoOf(l, 10000), {
    ifindex: 3,
    name: "veth0",
    mac: "02:aa:bb:cc:dd:ee",
    mtu: 1500,
    up: true,
    carrier: true,
    operstate: "up",
    kind: "veth",
    loopback: false,
    ethernet: true,
    master: 4,
    speedMbps: 10000,
  });
});

Deno.test("linkInfoOf: loopback, a tun without a MAC, a link that is down without carrier", () => {
  const lo = hex(`
    00 00  04 03  01 00 00 00  49 00 01 00  00 00 00 00  // ARPHRD_LOOPBACK, UP|LOOPBACK|RUNNING|LOWER_UP
    07 00 03 00  6c 6f 00 00                // IFLA_IFNAME "lo"
    0a 00 01 00  00 00 00 00 00 00 00 00    // IFLA_ADDRESS 00:00:00:00:00:00
    08 00 04 00  00 00 01 00                // IFLA_MTU 65536
    05 00 10 00  00 00 00 00                // IFLA_OPERSTATE IF_OPER_UNKNOWN
  `);
  const info = linkInfoOf(decodeLink(lo), null);
  assert.equal(info.loopback, true);
  assert.equal(info.ethernet, false);
  assert.equal(info.mac, "00:00:00:00:00:00");
  assert.equal(info.operstate, "unknown");
  assert.equal(info.mtu, 65536);
  assert.equal(info.kind, null);

  const tun = hex(`
    00 00  fe ff  05 00 00 00  90 10 00 00  00 00 00 00  // ARPHRD_NONE, POINTOPOINT|NOARP|MULTICAST
    09 00 03 00  74 75 6e 30 00 00 00 00    // IFLA_IFNAME "tun0"
    08 00 0a 00  00 00 00 00                // IFLA_MASTER 0: none
    05 00 10 00  02 00 00 00                // IFLA_OPERSTATE IF_OPER_DOWN
    0c 00 12 80  08 00 01 00  74 75 6e 00   // IFLA_LINKINFO { IFLA_INFO_KIND "tun" }
  `);
  const t = linkInfoOf(decodeLink(tun), null);
  assert.deepEqual(
    [t.mac, t.ethernet, t.up, t.carrier, t.operstate, t.kind, t.master, t.mtu],
    [null, false, false, false, "down", "tun", null, 0],
  );
});

Deno.test("decodeAddr reads ifaddrmsg, IFA_LOCAL/ADDRESS/BROADCAST/LABEL and IFA_FLAGS", () => {
  assert.deepEqual(decodeAddr(only(NEWADDR).payload), {
    family: RTNL.AF_INET,
    prefix: 24,
    flags: 0x80,
    scope: 0,
    ifindex: 3,
    local: parseIpv4("10.81.0.1"),
    address: parseIpv4("10.81.0.1"),
    broadcast: parseIpv4("10.81.0.255"),
    label: "veth0",
  });
  // An IPv6 address is not read as IPv4.
  const v6 = hex(
    `0a 40 00 00  03 00 00 00  14 00 01 00  fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01`,
  );
  const a = decodeAddr(v6);
  assert.deepEqual([a.family, a.prefix, a.local, a.address], [10, 64, null, null]);
});

Deno.test("decodeError: an ack is errno 0; a refusal carries errno and the extended-ack text", () => {
  assert.deepEqual(decodeError(only(ACK)), { errno: 0, message: null });
  assert.deepEqual(decodeError(only(ENODEV_EXTACK)), { errno: 19, message: "no such device" });
  // Not capped: the whole request is echoed before the attributes.
  const req = encodeNewAddr(11, 3, parseIpv4("10.0.0.1"), 24);
  const tlv = hex(`0a 00 01 00  62 61 64 21 00 00 00 00`); // NLMSGERR_ATTR_MSG "bad!"
  const len = 16 + 4 + req.length + tlv.length;
  const head = new Uint8Array(20);
  const v = new DataView(head.buffer);
  v.setUint32(0, len, true);
  v.setUint16(4, NETLINK.NLMSG_ERROR, true);
  v.setUint16(6, NETLINK.NLM_F_ACK_TLVS, true);
  v.setUint32(8, 11, true);
  v.setInt32(16, -17, true);
  assert.deepEqual(decodeError(only(concatBytes([head, req, tlv]))), {
    errno: 17,
    message: "bad!",
  });
  // Attributes that claim more than is there: the errno still counts.
  const broken = ENODEV_EXTACK.slice();
  broken[36] = 0x7f;
  assert.deepEqual(decodeError(only(broken)), { errno: 19, message: null });
  const done = only(hex(`14 00 00 00  03 00  02 00  07 00 00 00  00 00 00 00  f0 ff ff ff`));
  assert.equal(decodeDone(done), 16);
});

Deno.test("malformed framing is a DecodeError: short header, nlmsg_len too small or past the end", () => {
  assert.throws(() => parseMessages(NEWLINK_VETH.subarray(0, 10)), DecodeError);
  const small = NEWLINK_VETH.slice();
  small[0] = 8;
  assert.throws(() => parseMessages(small), DecodeError);
  const long = NEWLINK_VETH.slice();
  long[0] = 0x69;
  assert.throws(() => parseMessages(long), DecodeError);
  // A good message followed by a few stray bytes.
  assert.throws(() => parseMessages(concatBytes([DONE, new Uint8Array(5)])), DecodeError);
});

Deno.test("malformed attributes are a DecodeError; padding under 4 bytes is not", () => {
  assert.throws(() => parseAttrs(hex(`02 00 03 00`), "x"), DecodeError); // rta_len < 4
  assert.throws(() => parseAttrs(hex(`0c 00 03 00  61 62 63 00`), "x"), DecodeError); // past the end
  assert.deepEqual(parseAttrs(hex(`05 00 10 80  06 00 00`), "x").map((a) => a.type), [16]);
  const ifi = NEWLINK_VETH.subarray(16);
  const patch = (at: number, bytes: number[]) => {
    const b = ifi.slice();
    b.set(bytes, at);
    return b;
  };
  assert.throws(() => decodeLink(ifi.subarray(0, 12)), DecodeError); // short ifinfomsg
  assert.throws(() => decodeLink(patch(28, [0x06, 0x00])), DecodeError); // IFLA_MTU of 2 bytes
  assert.throws(() => decodeLink(patch(18, [0x99])), DecodeError); // no IFLA_IFNAME
  assert.throws(() => decodeLink(patch(76, [0x20])), DecodeError); // nested kind overruns
  const addr = NEWADDR.subarray(16);
  assert.throws(() => decodeAddr(addr.subarray(0, 7)), DecodeError);
  const shortLocal = addr.slice();
  shortLocal.set([0x07], 16); // IFA_LOCAL of 3 bytes
  assert.throws(() => decodeAddr(shortLocal), DecodeError);
  const prefix33 = addr.slice();
  prefix33[1] = 33;
  assert.throws(() => decodeAddr(prefix33), DecodeError);
  assert.throws(
    () => decodeError(only(hex(`12 00 00 00  02 00 00 00  00 00 00 00  00 00 00 00  00 00`))),
    DecodeError,
  );
});

Deno.test("every truncation of a datagram decodes or throws DecodeError, never reads past the end", () => {
  const all = concatBytes([NEWLINK_VETH, NEWADDR, DONE, ENODEV_EXTACK]);
  for (let n = 0; n <= all.length; n++) decodesOrRefuses(() => parseMessages(all.subarray(0, n)));
  // The frame intact but cut short inside the payload: nlmsg_len says so too.
  for (const [msg, decode] of [[NEWLINK_VETH, decodeLink], [NEWADDR, decodeAddr]] as const) {
    for (let len = 16; len <= msg.length; len++) {
      const cut = msg.slice(0, len);
      new DataView(cut.buffer).setUint32(0, len, true);
      decodesOrRefuses(() => decode(only(cut).payload));
    }
  }
});

Deno.test("fuzz: random bytes and mutated fixtures decode or throw DecodeError", () => {
  const decodeAll = (b: Uint8Array) => {
    for (const m of parseMessages(b)) {
      decodesOrRefuses(() => decodeLink(m.payload));
      decodesOrRefuses(() => decodeAddr(m.payload));
      decodesOrRefuses(() => decodeError(m));
      decodeDone(m);
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => decodesOrRefuses(() => decodeAll(b))),
  );
  const base = concatBytes([NEWLINK_VETH, NEWADDR, ENODEV_EXTACK]);
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    }),
    (edits) => {
      const b = base.slice();
      for (const [at, v] of edits) b[at] = v;
      decodesOrRefuses(() => decodeAll(b));
    },
  ));
});

Deno.test("request bytes: RTM_GETLINK and RTM_GETADDR dumps", () => {
  assert.deepEqual(
    encodeGetLink(5),
    hex(`
      28 00 00 00  12 00  01 03  05 00 00 00  00 00 00 00  // len 40, RTM_GETLINK, REQUEST|DUMP, seq 5
      00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00  // ifinfomsg: AF_UNSPEC, no filter
      08 00 1d 00  08 00 00 00                            // IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS
    `),
  );
  const m = only(encodeGetAddr(6));
  assert.deepEqual([m.type, m.flags, m.seq], [RTNL.RTM_GETADDR, 0x301, 6]);
  assert.deepEqual(m.payload, hex(`02 00 00 00  00 00 00 00`));
});

Deno.test("request round trip: RTM_NEWADDR with broadcast, RTM_DELADDR without", () => {
  const ip = parseIpv4("10.81.0.1");
  const add = only(encodeNewAddr(9, 3, ip, 24));
  assert.equal(add.type, RTNL.RTM_NEWADDR);
  assert.equal(
    add.flags,
    NETLINK.NLM_F_REQUEST | NETLINK.NLM_F_CREATE | NETLINK.NLM_F_EXCL | NETLINK.NLM_F_ACK,
  );
  assert.equal(add.seq, 9);
  const a = decodeAddr(add.payload);
  assert.deepEqual(
    [a.family, a.prefix, a.ifindex, a.scope, a.local, a.address, a.broadcast],
    [RTNL.AF_INET, 24, 3, 0, ip, ip, parseIpv4("10.81.0.255")],
  );
  // /31 and /32 have no broadcast address (as with `brd +`); /30 does.
  assert.equal(decodeAddr(only(encodeNewAddr(1, 3, ip, 31)).payload).broadcast, null);
  assert.equal(decodeAddr(only(encodeNewAddr(1, 3, ip, 32)).payload).broadcast, null);
  assert.equal(
    decodeAddr(only(encodeNewAddr(1, 3, ip, 30)).payload).broadcast,
    parseIpv4("10.81.0.3"),
  );
  const del = only(encodeDelAddr(10, 3, ip, 24));
  assert.deepEqual([del.type, del.flags, del.seq], [
    RTNL.RTM_DELADDR,
    NETLINK.NLM_F_REQUEST | NETLINK.NLM_F_ACK,
    10,
  ]);
  const d = decodeAddr(del.payload);
  assert.deepEqual([d.prefix, d.ifindex, d.local, d.address, d.broadcast], [24, 3, ip, ip, null]);
  assert.throws(() => encodeNewAddr(1, 0, ip, 24), RangeError);
  assert.throws(() => encodeNewAddr(1, 3, ip, 33), RangeError);
  assert.throws(() => encodeDelAddr(1, 3, -1, 24), RangeError);
  assert.throws(() => encodeDelAddr(1, 3, 2 ** 32, 24), RangeError);
});

Deno.test("operstateName and parseSpeed", () => {
  assert.deepEqual([0, 2, 3, 5, 6, 42, null].map(operstateName), [
    "unknown",
    "down",
    "lowerlayerdown",
    "dormant",
    "up",
    "unknown",
    "unknown",
  ]);
  assert.deepEqual(["10000\n", "1000", "-1\n", "0\n", "", "fast", null].map(parseSpeed), [
    10000,
    1000,
    null,
    null,
    null,
    null,
    null,
  ]);
});

Deno.test("joinInterfaces pairs addresses with their link and computes the subnet", () => {
  const link = linkInfoOf(decodeLink(only(NEWLINK_VETH).payload), null);
  const ifs = joinInterfaces([link, { ...link, ifindex: 9, name: "x", mac: null }], [
    { ifindex: 3, ip: parseIpv4("10.81.0.7"), prefix: 24 },
    { ifindex: 3, ip: parseIpv4("10.82.0.1"), prefix: 16 },
    { ifindex: 4, ip: parseIpv4("10.83.0.1"), prefix: 24 },
  ]);
  assert.equal(ifs.length, 2);
  assert.deepEqual(ifs[0]!.ipv4.map((a) => a.subnet.network), [0x0a510000, 0x0a520000]);
  assert.equal(ifs[0]!.kind, "veth");
  assert.equal(ifs[0]!.master, 4);
  assert.equal(ifs[1]!.mac, "00:00:00:00:00:00");
  assert.deepEqual(ifs[1]!.ipv4, []);
});
