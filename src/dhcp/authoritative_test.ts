import assert from "node:assert/strict";
import { type BootFilesConfig, DEFAULT_BOOT_FILES } from "../boot/mod.ts";
import { formatIpv4, parseCidr, parseIpv4 } from "../net/addr.ts";
import {
  type ClientSpec,
  guidOption,
  makeDecline,
  makeDiscover,
  makeInform,
  makePacket,
  makeRelease,
  makeRequest,
} from "../testing/dhcp_factories.ts";
import {
  type AuthoritativeDeps,
  authoritativeResponder,
  type Decision,
  decodePacket,
  encodePacket,
  getBootfileName,
  getHostname,
  getLeaseTime,
  getMessageType,
  getRebindingTime,
  getRelayAgentInfo,
  getRenewalTime,
  getRouters,
  getServerId,
  getSubnetMask,
  getVendorClass,
  type LeaseRow,
  MessageType,
  Opt,
  type RequestContext,
} from "./mod.ts";

const ip = parseIpv4;
const SERVER = "10.0.0.1";
const T0 = 1_700_000_000_000;
const boot = (_segment: string, serverIp: number): BootFilesConfig => ({
  ...DEFAULT_BOOT_FILES,
  tftpServer: serverIp,
  httpBase: `http://${formatIpv4(serverIp)}:8080`,
});

function deps(over: Partial<AuthoritativeDeps> = {}): AuthoritativeDeps {
  return {
    segments: [{
      pool: {
        segment: "lan0",
        subnet: parseCidr("10.0.0.0/24"),
        rangeStart: ip("10.0.0.100"),
        rangeEnd: ip("10.0.0.109"),
        excluded: [ip(SERVER)],
        reservations: [
          { mac: "52:54:00:00:aa:aa", ip: ip("10.0.0.50"), hostname: "fixed" },
          { node: "deadbeef", ip: ip("10.0.0.51") },
        ],
      },
      leaseTime: 3600,
      routers: [ip("10.0.0.254")],
      dns: [ip("10.0.0.1")],
      domain: "mesh.lan",
    }, {
      pool: {
        segment: "relay-net",
        subnet: parseCidr("10.20.0.0/24"),
        rangeStart: ip("10.20.0.50"),
        rangeEnd: ip("10.20.0.60"),
      },
      leaseTime: 600,
    }],
    boot,
    ...over,
  };
}
function ctx(now = T0, over: Partial<RequestContext> = {}): RequestContext {
  return {
    segment: "lan0",
    serverIp: ip(SERVER),
    ifaceSubnet: parseCidr("10.0.0.0/24"),
    now,
    receivedVia: "broadcast",
    ...over,
  };
}
function replyOf(d: Decision) {
  assert.equal(d.kind, "reply", d.reason);
  if (d.kind !== "reply") throw new Error("unreachable");
  // Every reply survives the wire.
  assert.deepEqual(decodePacket(encodePacket(d.packet)), d.packet);
  return d;
}
const typeOf = (d: Decision) => d.kind === "reply" ? getMessageType(d.packet.options) : d.kind;

/** Full DORA for one client; returns the ACKed address. */
function dora(r: ReturnType<typeof authoritativeResponder>, spec: ClientSpec, now = T0): string {
  const offer = replyOf(r.respond(makeDiscover(spec), ctx(now)));
  assert.equal(getMessageType(offer.packet.options), MessageType.Offer);
  const yi = formatIpv4(offer.packet.yiaddr);
  const ack = replyOf(
    r.respond(makeRequest({ ...spec, serverId: SERVER, requestedIp: yi }), ctx(now)),
  );
  assert.equal(getMessageType(ack.packet.options), MessageType.Ack, ack.reason);
  assert.equal(ack.changes.length >= 1, true);
  return formatIpv4(ack.packet.yiaddr);
}

Deno.test("respond() DISCOVER → OFFER with network options, no persisted change", () => {
  const r = authoritativeResponder(deps());
  const d = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:01" }), ctx()));
  const o = d.packet.options;
  assert.equal(getMessageType(o), MessageType.Offer);
  assert.equal(formatIpv4(d.packet.yiaddr), "10.0.0.100");
  assert.equal(formatIpv4(getServerId(o)!), SERVER);
  assert.equal(getLeaseTime(o), 3600);
  assert.equal(getRenewalTime(o), 1800);
  assert.equal(getRebindingTime(o), 3150);
  assert.equal(formatIpv4(getSubnetMask(o)!), "255.255.255.0");
  assert.deepEqual(getRouters(o)?.map(formatIpv4), ["10.0.0.254"]);
  assert.deepEqual(d.changes, []);
  assert.equal(d.probe, ip("10.0.0.100"));
  assert.deepEqual(d.destination, { kind: "link", mac: "52:54:00:00:00:01", ip: ip("10.0.0.100") });
  assert.equal(getBootfileName(o), undefined);
});

Deno.test("respond() REQUEST in SELECTING → ACK with a bound row", () => {
  const r = authoritativeResponder(deps());
  assert.equal(dora(r, { mac: "52:54:00:00:00:01" }), "10.0.0.100");
  const row = r.pool("lan0")!.lease(ip("10.0.0.100"))!;
  assert.equal(row.state, "bound");
  assert.equal(row.mac, "52:54:00:00:00:01");
  assert.equal(row.expiresAt, T0 + 3_600_000);
  assert.equal(row.segment, "lan0");
});
