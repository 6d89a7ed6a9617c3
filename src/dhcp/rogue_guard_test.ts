import assert from "node:assert/strict";
import fc from "fast-check";
import { makePacket } from "../testing/dhcp_factories.ts";
import { macToBytes, parseIpv4 } from "../wire/mod.ts";
import { MessageType, Op, Opt } from "./constants.ts";
import { textValue } from "./option_values.ts";
import type { DhcpPacket } from "./packet.ts";
import { classifyReply, type OwnServer } from "./rogue_guard.ts";

const OWN: OwnServer = {
  ips: new Set([parseIpv4("10.0.0.1")]),
  macs: new Set(["02:00:00:00:00:01"]),
};
const THEIRS = { srcMac: macToBytes("02:aa:00:00:00:01"), srcIp: parseIpv4("10.0.0.254") };

function reply(type: number, more: Partial<DhcpPacket> = {}, vendor?: string): DhcpPacket {
  const p = makePacket(type, { serverId: "10.0.0.254", mac: "52:54:00:00:00:09" });
  const options = new Map(p.options);
  if (vendor !== undefined) options.set(Opt.VendorClassIdentifier, textValue(vendor));
  return { ...p, op: Op.BootReply, yiaddr: parseIpv4("10.0.0.50"), options, ...more };
}

Deno.test("classifyReply: every branch", () => {
  const cases: [string, DhcpPacket, typeof THEIRS, unknown][] = [
    ["offer from another server", reply(MessageType.Offer), THEIRS, {
      foreign: {
        serverId: "10.0.0.254",
        serverMac: "02:aa:00:00:00:01",
        message: "offer",
        yiaddr: "10.0.0.50",
        client: "52:54:00:00:00:09",
      },
    }],
    ["ack from another server", reply(MessageType.Ack), THEIRS, undefined],
    ["a request is no reply", { ...reply(MessageType.Offer), op: Op.BootRequest }, THEIRS, {
      ignore: "not-reply",
    }],
    ["a NAK hands out nothing", reply(MessageType.Nak), THEIRS, { ignore: "not-offer-or-ack" }],
    ["a proxyDHCP offer", reply(MessageType.Offer, { yiaddr: 0 }, "PXEClient"), THEIRS, {
      ignore: "proxy",
    }],
    ["an ACK to an INFORM", reply(MessageType.Ack, { yiaddr: 0 }), THEIRS, {
      ignore: "no-address",
    }],
    ["ours by MAC", reply(MessageType.Offer), {
      ...THEIRS,
      srcMac: macToBytes("02:00:00:00:00:01"),
    }, {
      ignore: "ours",
    }],
    ["ours by server id", reply(MessageType.Offer), { ...THEIRS, srcIp: parseIpv4("10.0.0.1") }, {
      foreign: {
        serverId: "10.0.0.254",
        serverMac: "02:aa:00:00:00:01",
        message: "offer",
        yiaddr: "10.0.0.50",
        client: "52:54:00:00:00:09",
      },
    }],
  ];
  for (const [name, pkt, frame, want] of cases) {
    const got = classifyReply(pkt, frame, OWN);
    if (want === undefined) assert.ok("foreign" in got && got.foreign.message === "ack", name);
    else assert.deepEqual(got, want, name);
  }
  // No option 54: the frame's source address names the server.
  const bare = reply(MessageType.Offer);
  const options = new Map(bare.options);
  options.delete(Opt.ServerIdentifier);
  const v = classifyReply({ ...bare, options }, { ...THEIRS, srcIp: parseIpv4("10.0.0.1") }, OWN);
  assert.deepEqual(v, { ignore: "ours" });
});

Deno.test("classifyReply: random replies never throw", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 10 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (op, type, yiaddr) => {
        const v = classifyReply(reply(type, { op, yiaddr }), THEIRS, OWN);
        assert.ok("foreign" in v || "ignore" in v);
      },
    ),
  );
});
