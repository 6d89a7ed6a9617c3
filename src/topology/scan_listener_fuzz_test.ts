/**
 * Fuzzing the scan's listener with random frames: decodeArpFrame and
 * ScanListener.hear together, as the scan's shell calls them for every frame.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeArpFrame } from "../arp/mod.ts";
import { DecodeError } from "../errors.ts";
import { formatMac, macToBytes } from "../wire/mod.ts";
import { markerAddress, ScanListener, type ScanPort } from "./segments.ts";

const PORTS: ScanPort[] = [
  { name: "eth0", mac: "52:54:00:00:00:10" },
  { name: "eth1", mac: "52:54:00:00:00:11" },
  { name: "eth2", mac: "52:54:00:00:00:02" },
];
const STRANGER = "02:99:00:00:00:01";
/** True three times in four. */
const likely = fc.nat(3).map((n) => n > 0);

/**
 * 0-80 random bytes, mostly shaped towards what the listener looks at, each
 * where the frame is long enough to hold it: the ARP ethertype, a valid
 * Ethernet/IPv4 header, sender and Ethernet source among our MACs (often the
 * same one), a marker target (ours, or one past our ports), sender IP 0, op
 * request or reply, an Ethernet destination of ours.
 */
const frame = fc.record({
  bytes: fc.oneof(
    { arbitrary: fc.uint8Array({ minLength: 42, maxLength: 80, size: "max" }), weight: 3 },
    { arbitrary: fc.uint8Array({ maxLength: 41, size: "max" }), weight: 1 },
  ),
  arp: likely,
  header: likely,
  sha: fc.option(fc.constantFrom(...PORTS.map((p) => p.mac), STRANGER)),
  ethSrc: fc.option(fc.constantFrom(...PORTS.map((p) => p.mac), STRANGER)),
  marker: fc.option(fc.integer({ min: 0, max: PORTS.length })),
  spaZero: fc.boolean(),
  sameSrc: fc.boolean(),
  op: fc.option(fc.constantFrom(1, 2)),
  ethDst: fc.option(fc.constantFrom(...PORTS.map((p) => p.mac))),
}).map((f) => {
  const b = f.bytes.slice();
  const put = (at: number, v: ArrayLike<number>) => {
    for (let i = 0; i < v.length && at + i < b.length; i++) b[at + i] = v[i]!;
  };
  if (f.arp) put(12, [0x08, 0x06]);
  if (f.header) put(14, [0, 1, 0x08, 0x00, 6, 4]);
  if (f.sha !== null) put(22, macToBytes(f.sha));
  const ethSrc = f.sameSrc ? f.sha : f.ethSrc;
  if (ethSrc !== null) put(6, macToBytes(ethSrc));
  if (f.ethDst !== null) put(0, macToBytes(f.ethDst));
  if (f.op !== null) put(20, [0, f.op]);
  if (f.spaZero) put(28, [0, 0, 0, 0]);
  if (f.marker !== null) {
    const m = markerAddress(f.marker);
    put(38, [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255]);
  }
  return b;
});

Deno.test("ScanListener fuzz: random frames throw only DecodeError, and only a marker's owner makes a probe", () => {
  const l = new ScanListener(PORTS);
  const on = fc.constantFrom(...PORTS.map((p) => p.name), "eth9");
  const seen: Record<string, number> = {};
  fc.assert(
    fc.property(frame, on, (bytes, port) => {
      let arp;
      try {
        arp = decodeArpFrame(bytes);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
        return;
      }
      if (arp === null) return;
      const h = l.hear(port, arp);
      const kind = h.kind === "ignored" ? h.reason : h.kind;
      seen[kind] = (seen[kind] ?? 0) + 1;
      const sender = formatMac(arp.sha);
      const owner = PORTS.findIndex((_, i) => arp.tpa === markerAddress(i));
      const exact = owner >= 0 && arp.spa === 0 && sender === PORTS[owner]!.mac &&
        formatMac(arp.ethSrc) === sender;
      if (h.kind === "probe") {
        assert.ok(exact, `a probe from ${h.from} for a frame from ${sender} to ${arp.tpa}`);
        assert.equal(h.from, PORTS[owner]!.name);
        assert.notEqual(h.from, port);
      } else if (exact && PORTS[owner]!.name !== port) {
        assert.fail(`the exact probe of ${PORTS[owner]!.name} on ${port} was ${JSON.stringify(h)}`);
      }
    }),
    { numRuns: 5000 },
  );
  // The shaping reaches every branch, so the property is not vacuous.
  for (
    const k of [
      "probe",
      "neighbour",
      "own-mac",
      "forged-marker",
      "foreign-probe",
      "bad-sender",
      "unsolicited-reply",
    ]
  ) {
    assert.ok((seen[k] ?? 0) > 0, `no frame heard as ${k}: ${JSON.stringify(seen)}`);
  }
});
