import assert from "node:assert/strict";
import fc from "fast-check";
import { parseIpv4 } from "../wire/mod.ts";
import { MessageType, Op, Opt } from "./constants.ts";
import {
  ClientState,
  LeaseClient,
  type LeaseClientConfig,
  type LeaseDecision,
  PARAMETER_REQUEST_LIST,
} from "./lease_client.ts";
import { ipValue, u32Value, u8Value } from "./option_values.ts";
import { chaddrFromMac, decodePacket, type DhcpPacket, encodePacket } from "./packet.ts";

const MAC = "52:54:00:aa:bb:01";
const SERVER = parseIpv4("10.50.0.1");
const OTHER = parseIpv4("10.50.0.2");
const IP = parseIpv4("10.50.0.123");
const S = 1000;

/** A client with xids 1, 2, 3, ... and the given jitter. */
function client(over: Partial<LeaseClientConfig> = {}): LeaseClient {
  let xid = 0;
  return new LeaseClient({ mac: MAC, hostname: "central", xid: () => ++xid, ...over });
}

interface ReplySpec {
  readonly yiaddr?: number;
  readonly server?: number | null;
  readonly lease?: number | null;
  readonly xid?: number;
  readonly mac?: string;
  readonly extra?: readonly (readonly [number, Uint8Array])[];
}

/** What a DHCP server answers to `req`. */
function reply(type: number, req: DhcpPacket, s: ReplySpec = {}): DhcpPacket {
  const o = new Map<number, Uint8Array>([[Opt.MessageType, u8Value(type)]]);
  const server = s.server === undefined ? SERVER : s.server;
  if (server !== null) o.set(Opt.ServerIdentifier, ipValue(server));
  const lease = s.lease === undefined ? 120 : s.lease;
  if (type !== MessageType.Nak && lease !== null) o.set(Opt.IpAddressLeaseTime, u32Value(lease));
  o.set(Opt.SubnetMask, ipValue(parseIpv4("255.255.255.0")));
  o.set(Opt.Router, ipValue(SERVER));
  for (const [k, v] of s.extra ?? []) o.set(k, v);
  return {
    ...req,
    op: Op.BootReply,
    xid: s.xid ?? req.xid,
    yiaddr: type === MessageType.Nak ? 0 : s.yiaddr ?? IP,
    ciaddr: 0,
    chaddr: s.mac ? chaddrFromMac(s.mac) : req.chaddr,
    options: o,
  };
}

/** The packet a decision sends, after a trip through the codec (what goes on the wire). */
function sent(d: LeaseDecision): DhcpPacket {
  assert.ok(d.send, `expected a packet, got ${JSON.stringify(d)}`);
  return decodePacket(encodePacket(d.send.packet));
}
const typeOf = (p: DhcpPacket) => p.options.get(Opt.MessageType)?.[0];
const ipOpt = (p: DhcpPacket, code: number) => {
  const v = p.options.get(code);
  return v === undefined ? undefined : new DataView(v.buffer, v.byteOffset).getUint32(0);
};

/** Start, OFFER, ACK: returns the client bound at t = 1 s to a `lease`-second lease. */
function bound(lease = 120, extra: ReplySpec["extra"] = []): LeaseClient {
  const c = client();
  const discover = sent(c.start(0));
  const request = sent(c.received(reply(MessageType.Offer, discover), 500));
  const d = c.received(reply(MessageType.Ack, request, { lease, extra }), 1 * S);
  assert.ok(d.bind);
  return c;
}

Deno.test("lease client: DISCOVER, OFFER, REQUEST, ACK, then RELEASE on stop", () => {
  const c = client();
  assert.equal(c.state, ClientState.Init);
  const d1 = c.start(0);
  assert.equal(c.state, ClientState.Selecting);
  assert.equal(d1.send?.to, "broadcast");
  assert.equal(d1.nextAt, 4 * S);
  const discover = sent(d1);
  assert.equal(typeOf(discover), MessageType.Discover);
  assert.equal(discover.op, Op.BootRequest);
  assert.equal(discover.xid, 1);
  assert.deepEqual(discover.chaddr, chaddrFromMac(MAC));
  assert.deepEqual(
    [...discover.options.get(Opt.ClientIdentifier)!],
    [1, 0x52, 0x54, 0, 0xaa, 0xbb, 1],
  );
  assert.equal(new TextDecoder().decode(discover.options.get(Opt.Hostname)), "central");
  assert.deepEqual([...discover.options.get(Opt.ParameterRequestList)!], PARAMETER_REQUEST_LIST);
  assert.equal(discover.options.has(Opt.RequestedIpAddress), false);

  const d2 = c.received(reply(MessageType.Offer, discover), 300);
  assert.equal(c.state, ClientState.Requesting);
  const request = sent(d2);
  assert.equal(d2.send?.to, "broadcast");
  assert.equal(typeOf(request), MessageType.Request);
  assert.equal(request.xid, discover.xid, "REQUEST keeps the OFFER's xid");
  assert.equal(request.ciaddr, 0);
  assert.equal(ipOpt(request, Opt.RequestedIpAddress), IP);
  assert.equal(ipOpt(request, Opt.ServerIdentifier), SERVER);

  const d3 = c.received(reply(MessageType.Ack, request), 2 * S);
  assert.equal(c.state, ClientState.Bound);
  assert.equal(d3.send, undefined);
  assert.deepEqual(d3.bind, {
    ip: IP,
    prefix: 24,
    routers: [SERVER],
    dnsServers: [],
    serverId: SERVER,
    leaseSeconds: 120,
    boundAt: 2 * S,
    renewAt: 62 * S,
    rebindAt: 107 * S,
    expiresAt: 122 * S,
    via: "REQUESTING",
  });
  assert.equal(d3.nextAt, 62 * S);

  const d4 = c.stop(10 * S);
  assert.equal(c.state, ClientState.Stopped);
  assert.deepEqual(d4.send?.to, { ip: SERVER });
  assert.equal(d4.unbind?.ip, IP);
  assert.equal(d4.why, "released");
  assert.equal(d4.nextAt, Infinity);
  const release = sent(d4);
  assert.equal(typeOf(release), MessageType.Release);
  assert.equal(release.ciaddr, IP);
  assert.deepEqual([...release.options.keys()], [
    Opt.MessageType,
    Opt.ServerIdentifier,
    Opt.ClientIdentifier,
  ]);
  // Stopped is final: nothing binds or sends again.
  assert.deepEqual(c.received(reply(MessageType.Ack, request), 11 * S).ignored, "stopped");
  assert.equal(c.tick(1e9).send, undefined);
});

Deno.test("lease client: stop before a lease sends nothing", () => {
  const c = client();
  c.start(0);
  assert.deepEqual(c.stop(1 * S), { nextAt: Infinity });
});

Deno.test("lease client: a NAK sends it back to INIT, a second NAK in a row waits", () => {
  const c = client();
  const request = sent(c.received(reply(MessageType.Offer, sent(c.start(0))), 100));
  const d = c.received(reply(MessageType.Nak, request), 1 * S);
  assert.equal(c.state, ClientState.Init);
  assert.deepEqual(d, { nextAt: 1 * S });
  const again = sent(c.tick(1 * S));
  assert.equal(c.state, ClientState.Selecting);
  assert.equal(typeOf(again), MessageType.Discover);
  assert.notEqual(again.xid, request.xid);
  const request2 = sent(c.received(reply(MessageType.Offer, again), 1.5 * S));
  assert.equal(c.received(reply(MessageType.Nak, request2), 2 * S).nextAt, 6 * S);

  // A NAK while RENEWING takes the lease away.
  const b = bound();
  const renew = sent(b.tick(61 * S));
  const n = b.received(reply(MessageType.Nak, renew), 62 * S);
  assert.equal(n.unbind?.ip, IP);
  assert.equal(n.why, "nak");
  assert.equal(b.state, ClientState.Init);
});

Deno.test("lease client: no answer retransmits DISCOVER at 4, 8, 16, 32, then 64 s", () => {
  const times = (jitter: number) => {
    const c = client({ jitter: () => jitter });
    const at = [0];
    let d = c.start(0);
    for (let i = 0; i < 7; i++) {
      at.push(d.nextAt);
      assert.equal(c.tick(d.nextAt - 1).send, undefined, "an early tick sends nothing");
      d = c.tick(d.nextAt);
      assert.equal(typeOf(sent(d)), MessageType.Discover);
      assert.equal(sent(d).xid, 1, "retransmissions keep the xid");
    }
    return at.map((t) => t / S);
  };
  assert.deepEqual(times(0), [0, 4, 12, 28, 60, 124, 188, 252]);
  assert.deepEqual(times(500), [0, 4.5, 13, 29.5, 62, 126.5, 191, 255.5]);
  assert.deepEqual(times(-5000).slice(0, 3), [0, 3, 10], "jitter is clamped to ±1 s");

  // REQUESTING gives up after four REQUESTs (0, 4, 12, 28 s) and discovers again at 60 s.
  const c = client();
  let d = c.received(reply(MessageType.Offer, sent(c.start(0))), 0);
  const sends: [number, number | undefined][] = [];
  for (let i = 0; i < 5; i++) {
    sends.push([d.nextAt / S, typeOf(sent(d = c.tick(d.nextAt)))]);
  }
  assert.deepEqual(sends, [
    [4, MessageType.Request],
    [12, MessageType.Request],
    [28, MessageType.Request],
    [60, MessageType.Discover],
    [64, MessageType.Discover],
  ]);
});

Deno.test("lease client: renews at T1 unicast, rebinds at T2 broadcast, unbinds at expiry", () => {
  const c = bound(120); // bound at 1 s: T1 61 s, T2 106 s, expiry 121 s
  assert.equal(c.tick(60 * S).send, undefined);
  const r1 = c.tick(61 * S);
  assert.equal(c.state, ClientState.Renewing);
  assert.deepEqual(r1.send?.to, { ip: SERVER });
  const renew = sent(r1);
  assert.equal(typeOf(renew), MessageType.Request);
  assert.equal(renew.ciaddr, IP);
  assert.equal(renew.options.has(Opt.RequestedIpAddress), false);
  assert.equal(renew.options.has(Opt.ServerIdentifier), false);
  assert.equal(r1.nextAt, 106 * S, "half the time to T2, at least 60 s, never past T2");

  const r2 = c.tick(106 * S);
  assert.equal(c.state, ClientState.Rebinding);
  assert.equal(r2.send?.to, "broadcast");
  const rebind = sent(r2);
  assert.equal(rebind.ciaddr, IP);
  assert.notEqual(rebind.xid, renew.xid);
  assert.equal(r2.nextAt, 121 * S);

  const r3 = c.tick(121 * S);
  assert.equal(r3.unbind?.ip, IP);
  assert.equal(r3.why, "expired");
  assert.equal(c.state, ClientState.Selecting);
  const discover = sent(r3);
  assert.equal(typeOf(discover), MessageType.Discover);
  assert.equal(ipOpt(discover, Opt.RequestedIpAddress), IP, "asks for the lost address again");
});

Deno.test("lease client: an ACK while RENEWING or REBINDING extends the lease", () => {
  const c = bound(120);
  const renew = sent(c.tick(61 * S));
  const a = c.received(reply(MessageType.Ack, renew, { lease: 600 }), 62 * S);
  assert.equal(a.bind?.via, "RENEWING");
  assert.equal(a.bind?.expiresAt, 662 * S);
  assert.equal(a.unbind, undefined);
  assert.equal(c.state, ClientState.Bound);

  // REBINDING takes an ACK from any server; a new address unbinds the old one.
  const b = bound(120);
  b.tick(61 * S);
  const rebind = sent(b.tick(106 * S));
  const other = parseIpv4("10.50.0.124");
  const r = b.received(reply(MessageType.Ack, rebind, { server: OTHER, yiaddr: other }), 107 * S);
  assert.equal(r.bind?.ip, other);
  assert.equal(r.bind?.serverId, OTHER);
  assert.equal(r.bind?.via, "REBINDING");
  assert.equal(r.unbind?.ip, IP);
  assert.equal(r.why, "changed");
});

Deno.test("lease client: options 58 and 59 set T1 and T2; an infinite lease never renews", () => {
  const c = bound(1000, [[Opt.RenewalTime, u32Value(100)], [Opt.RebindingTime, u32Value(200)]]);
  assert.equal(c.lease?.renewAt, 101 * S);
  assert.equal(c.lease?.rebindAt, 201 * S);
  const bad = bound(100, [[Opt.RenewalTime, u32Value(500)]]);
  assert.equal(bad.lease?.renewAt, 51 * S, "a T1 past the lease is ignored");
  const forever = bound(0xffffffff);
  assert.equal(forever.lease?.expiresAt, Infinity);
  assert.equal(forever.tick(1e12).send, undefined);
});

Deno.test("lease client: INIT-REBOOT asks for the previous address and keeps it", () => {
  const c = client({ previous: IP });
  assert.equal(c.state, ClientState.InitReboot);
  const d = c.start(0);
  assert.equal(c.state, ClientState.Rebooting);
  assert.equal(d.send?.to, "broadcast");
  const req = sent(d);
  assert.equal(typeOf(req), MessageType.Request);
  assert.equal(req.ciaddr, 0);
  assert.equal(ipOpt(req, Opt.RequestedIpAddress), IP);
  assert.equal(req.options.has(Opt.ServerIdentifier), false);
  const a = c.received(reply(MessageType.Ack, req), 200);
  assert.equal(a.bind?.ip, IP);
  assert.equal(a.bind?.via, "REBOOTING");
});

Deno.test("lease client: a silent INIT-REBOOT falls back to DISCOVER and prefers the old address", () => {
  const c = client({ previous: IP });
  const first = c.start(0);
  const second = c.tick(first.nextAt);
  assert.equal(first.nextAt, 4 * S);
  assert.equal(typeOf(sent(second)), MessageType.Request);
  assert.equal(second.nextAt, 10 * S, "REBOOTING gives up after 10 s");
  const d = c.tick(10 * S);
  assert.equal(c.state, ClientState.Selecting);
  const discover = sent(d);
  assert.equal(ipOpt(discover, Opt.RequestedIpAddress), IP);
  // Another address is offered first: held for a second while the old one may still come.
  const elsewhere = parseIpv4("10.50.0.140");
  const held = c.received(reply(MessageType.Offer, discover, { yiaddr: elsewhere }), 10.1 * S);
  assert.equal(held.send, undefined);
  assert.equal(held.nextAt, 11.1 * S);
  const req = sent(c.received(reply(MessageType.Offer, discover, { server: OTHER }), 10.2 * S));
  assert.equal(ipOpt(req, Opt.RequestedIpAddress), IP);
  assert.equal(ipOpt(req, Opt.ServerIdentifier), OTHER);

  // Only the other address comes: it is taken when the wait is over.
  const c2 = client({ previous: IP });
  c2.start(0);
  c2.tick(4 * S);
  const disc2 = sent(c2.tick(10 * S));
  c2.received(reply(MessageType.Offer, disc2, { yiaddr: elsewhere }), 10.5 * S);
  const take = sent(c2.tick(11.5 * S));
  assert.equal(c2.state, ClientState.Requesting);
  assert.equal(ipOpt(take, Opt.RequestedIpAddress), elsewhere);
});

Deno.test("lease client: replies for someone else, proxy offers and broken ACKs are ignored", () => {
  const c = client();
  const discover = sent(c.start(0));
  const offer = reply(MessageType.Offer, discover);
  const cases: [DhcpPacket, string][] = [
    [reply(MessageType.Offer, discover, { xid: 77 }), "xid"],
    [reply(MessageType.Offer, discover, { mac: "52:54:00:aa:bb:02" }), "chaddr"],
    [reply(MessageType.Offer, discover, { yiaddr: 0 }), "proxy-offer"],
    [reply(MessageType.Offer, discover, { yiaddr: 0xffffffff }), "bad-yiaddr"],
    [reply(MessageType.Offer, discover, { server: null }), "no-server-id"],
    [reply(MessageType.Ack, discover), "type"],
    [{ ...offer, op: Op.BootRequest }, "not-reply"],
    [{ ...offer, hlen: 16 }, "chaddr"],
  ];
  for (const [p, why] of cases) {
    const d = c.received(p, 100);
    assert.equal(d.ignored, why);
    assert.equal(d.send, undefined, why);
    assert.equal(c.state, ClientState.Selecting, why);
  }
  const request = sent(c.received(offer, 200));
  for (
    const [p, why] of [
      [reply(MessageType.Ack, request, { server: OTHER }), "other-server"],
      [reply(MessageType.Nak, request, { server: OTHER }), "other-server"],
      [reply(MessageType.Ack, request, { lease: null }), "no-lease-time"],
      [reply(MessageType.Ack, request, { xid: request.xid + 1 }), "xid"],
      [reply(MessageType.Offer, request), "type"],
    ] as const
  ) {
    const d = c.received(p, 300);
    assert.equal(d.ignored, why);
    assert.equal(d.bind, undefined, why);
  }
  assert.equal(c.state, ClientState.Requesting);
  const ok = c.received(reply(MessageType.Ack, request), 400);
  assert.ok(ok.bind);
  assert.equal(c.received(reply(MessageType.Ack, request), 500).ignored, "state");
});

// ---- property: random packets never throw and never bind without a matching ACK ----

/** Drives a fresh client into one of its states with a well-behaved server. */
function inState(n: number): LeaseClient {
  const reboot = n % 2 === 1;
  const c = reboot ? client({ previous: IP }) : client({ jitter: () => 300 });
  const step = Math.floor(n / 2) % 9;
  if (step === 0) return c; // INIT / INIT-REBOOT, not started
  let d = c.start(0);
  if (step === 1) return c; // SELECTING / REBOOTING
  if (reboot) { // the server stays silent: back to DISCOVER
    c.tick(4 * S);
    d = c.tick(10 * S);
  }
  const request = sent(c.received(reply(MessageType.Offer, sent(d)), 10.5 * S));
  if (step === 2) return c; // REQUESTING
  if (step === 3) {
    c.received(reply(MessageType.Nak, request), 11 * S);
    return c; // INIT after a NAK
  }
  c.received(reply(MessageType.Ack, request), 11 * S); // T1 71 s, T2 116 s, expiry 131 s
  if (step === 4) return c; // BOUND
  c.tick(71 * S);
  if (step === 5) return c; // RENEWING
  c.tick(116 * S);
  if (step === 6) return c; // REBINDING
  if (step === 7) {
    c.tick(131 * S);
    return c; // expired: SELECTING again
  }
  c.stop(120 * S);
  return c; // STOPPED
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const event = fc.record({
  op: fc.constantFrom(0, 1, 2, 2, 2, 255),
  htype: fc.constantFrom(1, 1, 6),
  hlen: fc.constantFrom(6, 6, 0, 16),
  // Half the packets look like answers to us (our xid and MAC, a reply): they reach the state logic.
  ours: fc.boolean(),
  ownXid: fc.boolean(),
  xid: u32,
  ownMac: fc.boolean(),
  chaddr: bytes(16),
  yiaddr: fc.oneof(fc.constant(0), fc.constant(IP), u32),
  type: fc.option(fc.oneof(fc.constantFrom(2, 5, 6), fc.integer({ min: 0, max: 255 }))),
  serverId: fc.option(fc.oneof(fc.constant(SERVER), u32)),
  lease: fc.option(fc.oneof(fc.constant(120), fc.constant(0), u32)),
  extra: fc.array(fc.tuple(fc.integer({ min: 1, max: 254 }), bytes(8)), { maxLength: 4 }),
  dt: fc.integer({ min: 0, max: 200_000 }),
  tick: fc.boolean(),
});

Deno.test("lease client (property): random packets never throw and bind only on our ACK", () => {
  const states = new Set<string>();
  let binds = 0;
  fc.assert(
    fc.property(fc.nat(), fc.array(event, { maxLength: 30 }), (n, events) => {
      const c = inState(n);
      states.add(c.state);
      let now = 125 * S;
      for (const e of events) {
        now += e.dt;
        if (e.tick) assert.ok(!Number.isNaN(c.tick(now).nextAt));
        const o = new Map<number, Uint8Array>(e.extra);
        if (e.type !== null) o.set(Opt.MessageType, u8Value(e.type));
        if (e.serverId !== null) o.set(Opt.ServerIdentifier, ipValue(e.serverId));
        if (e.lease !== null) o.set(Opt.IpAddressLeaseTime, u32Value(e.lease));
        const xid = c.xid;
        const pkt: DhcpPacket = {
          op: e.ours ? Op.BootReply : e.op,
          htype: e.ours ? 1 : e.htype,
          hlen: e.ours ? 6 : e.hlen,
          hops: 0,
          xid: e.ours || e.ownXid ? xid : e.xid,
          secs: 0,
          flags: 0,
          ciaddr: 0,
          yiaddr: e.yiaddr,
          siaddr: 0,
          giaddr: 0,
          chaddr: e.ours || e.ownMac ? chaddrFromMac(MAC) : e.chaddr,
          sname: "",
          file: "",
          options: o,
        };
        const d = c.received(pkt, now);
        assert.ok(!Number.isNaN(d.nextAt));
        if (d.bind) {
          assert.equal(pkt.op, Op.BootReply);
          assert.equal(pkt.options.get(Opt.MessageType)?.[0], MessageType.Ack);
          assert.equal(pkt.xid, xid);
          assert.deepEqual(pkt.chaddr.subarray(0, 6), chaddrFromMac(MAC).subarray(0, 6));
          assert.equal(d.bind.ip, pkt.yiaddr);
          assert.equal(c.state, ClientState.Bound);
          binds++;
        }
      }
    }),
    { numRuns: 2000 },
  );
  assert.equal(states.size, Object.keys(ClientState).length, [...states].join());
  assert.ok(binds > 0, "some random packets were matching ACKs");
});
