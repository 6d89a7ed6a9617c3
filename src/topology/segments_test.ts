import assert from "node:assert/strict";
import fc from "fast-check";
import { ArpOp, type ArpPacket, arpProbe } from "../arp/mod.ts";
import { macToBytes, parseIpv4 } from "../wire/mod.ts";
import {
  groupSegments,
  markerAddress,
  ScanListener,
  type ScanPort,
  segmentId,
} from "./segments.ts";

const PORTS: ScanPort[] = [
  { name: "eth0", mac: "52:54:00:00:00:10" },
  { name: "eth1", mac: "52:54:00:00:00:11" },
  { name: "eth2", mac: "52:54:00:00:00:02" },
];

function reply(mac: string, ip: string): ArpPacket {
  const m = macToBytes(mac);
  return {
    op: ArpOp.reply,
    sha: m,
    spa: parseIpv4(ip),
    tha: new Uint8Array(6),
    tpa: parseIpv4("10.0.0.1"),
    ethSrc: m,
    ethDst: new Uint8Array(6).fill(255),
  };
}

Deno.test("ScanListener: our marker from another port is a sighting; our own echo, forgeries and noise are ignored", () => {
  const l = new ScanListener(PORTS);
  const probe1 = arpProbe(macToBytes(PORTS[1]!.mac), markerAddress(1));
  assert.deepEqual(l.hear("eth0", probe1), { kind: "probe", from: "eth1" });
  assert.deepEqual(l.hear("eth1", probe1), { kind: "ignored", reason: "own-mac" });
  // eth1's marker, sent from eth0's MAC (or a stranger's): not eth1's probe.
  const forged = arpProbe(macToBytes(PORTS[0]!.mac), markerAddress(1));
  assert.deepEqual(l.hear("eth2", forged), { kind: "ignored", reason: "forged-marker" });
  const stranger = arpProbe(macToBytes("02:99:00:00:00:01"), markerAddress(0));
  assert.deepEqual(l.hear("eth2", stranger), { kind: "ignored", reason: "forged-marker" });
  // An ordinary frame from our own MAC that is not a scan probe.
  assert.deepEqual(l.hear("eth0", reply(PORTS[2]!.mac, "10.0.0.9")), {
    kind: "ignored",
    reason: "own-mac",
  });
  // Someone else's probe names no address of theirs; a group MAC is no host.
  const theirProbe = arpProbe(macToBytes("02:99:00:00:00:01"), parseIpv4("10.0.0.50"));
  assert.deepEqual(l.hear("eth0", theirProbe), { kind: "ignored", reason: "foreign-probe" });
  for (const mac of ["ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "00:00:00:00:00:00"]) {
    assert.deepEqual(l.hear("eth0", reply(mac, "10.0.0.9")), {
      kind: "ignored",
      reason: "bad-sender",
    }, mac);
  }
  assert.deepEqual(l.hear("eth2", reply("02:99:00:00:00:01", "192.168.1.7")), {
    kind: "neighbour",
    mac: "02:99:00:00:00:01",
    ip: parseIpv4("192.168.1.7"),
  });
  // A reply sent to one of our ports answers nothing the scan asked.
  const toUs = { ...reply("02:99:00:00:00:01", "192.168.1.7"), ethDst: macToBytes(PORTS[0]!.mac) };
  assert.deepEqual(l.hear("eth0", toUs), { kind: "ignored", reason: "unsolicited-reply" });
  const thaUs = { ...reply("02:99:00:00:00:01", "192.168.1.7"), tha: macToBytes(PORTS[2]!.mac) };
  assert.deepEqual(l.hear("eth2", thaUs), { kind: "ignored", reason: "unsolicited-reply" });
});

Deno.test("markerAddress: TEST-NET-3, one per port, bounded", () => {
  assert.equal(markerAddress(0), parseIpv4("203.0.113.1"));
  assert.equal(markerAddress(253), parseIpv4("203.0.113.254"));
  assert.throws(() => markerAddress(254), RangeError);
  assert.throws(() => markerAddress(-1), RangeError);
});

Deno.test("groupSegments: sightings join ports (one direction is enough), lone ports stand alone", () => {
  const ports = [...PORTS, { name: "eth3", mac: "52:54:00:00:00:03" }];
  const groups = groupSegments(ports, [
    { heardOn: "eth0", from: "eth1" },
    { heardOn: "eth9", from: "eth0" }, // unknown port: ignored
  ]);
  assert.deepEqual(groups, [
    { id: "seg-525400000002", interfaces: ["eth2"] },
    { id: "seg-525400000003", interfaces: ["eth3"] },
    { id: "seg-525400000010", interfaces: ["eth0", "eth1"] },
  ]);
  // A chain joins transitively.
  const chain = groupSegments(ports, [
    { heardOn: "eth0", from: "eth1" },
    { heardOn: "eth2", from: "eth1" },
    { heardOn: "eth3", from: "eth2" },
  ]);
  assert.deepEqual(chain, [{
    id: "seg-525400000002",
    interfaces: ["eth0", "eth1", "eth2", "eth3"],
  }]);
});

Deno.test("segmentId: the lowest member MAC, whatever the order or case", () => {
  assert.equal(segmentId(["52:54:00:00:00:11", "52:54:00:00:00:0A"]), "seg-52540000000a");
  assert.equal(segmentId(["52:54:00:00:00:0a", "52:54:00:00:00:11"]), "seg-52540000000a");
  assert.throws(() => segmentId([]), RangeError);
});

Deno.test("groupSegments: the grouping is the connectivity of the sightings, in any order", () => {
  const n = 8;
  const ports: ScanPort[] = Array.from({ length: n }, (_, i) => ({
    name: `eth${i}`,
    mac: `52:54:00:00:01:${i.toString(16).padStart(2, "0")}`,
  }));
  const edge = fc.record({ a: fc.nat(n - 1), b: fc.nat(n - 1) });
  fc.assert(
    fc.property(fc.array(edge, { maxLength: 20 }), (edges) => {
      const sightings = edges.map((e) => ({ heardOn: `eth${e.a}`, from: `eth${e.b}` }));
      const groups = groupSegments(ports, sightings);
      const reversed = groupSegments(ports, [...sightings].reverse());
      assert.deepEqual(groups, reversed);
      // Every port in exactly one segment; every sighting inside one segment.
      const seg = new Map<string, string>();
      for (const g of groups) for (const i of g.interfaces) seg.set(i, g.id);
      assert.equal(seg.size, n);
      for (const s of sightings) assert.equal(seg.get(s.heardOn), seg.get(s.from));
      // No segment splits into parts with no sighting between them: count components.
      const adj = new Map<string, Set<string>>(ports.map((p) => [p.name, new Set()]));
      for (const s of sightings) {
        adj.get(s.heardOn)!.add(s.from);
        adj.get(s.from)!.add(s.heardOn);
      }
      for (const g of groups) {
        const seen = new Set([g.interfaces[0]!]);
        const todo = [g.interfaces[0]!];
        while (todo.length > 0) {
          for (const m of adj.get(todo.pop()!)!) if (!seen.has(m)) seen.add(m) && todo.push(m);
        }
        assert.equal(seen.size, g.interfaces.length);
      }
    }),
  );
});

Deno.test("ScanListener: with nonces, a copy of a probe without the port's nonce is a forgery", () => {
  const nonce = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const l = new ScanListener(PORTS.map((p, i) => i === 1 ? { ...p, nonce } : p));
  const probe = arpProbe(macToBytes(PORTS[1]!.mac), markerAddress(1));
  assert.deepEqual(l.hear("eth0", probe), { kind: "ignored", reason: "forged-marker" });
  assert.deepEqual(l.hear("eth0", { ...probe, tha: nonce }), { kind: "probe", from: "eth1" });
});
