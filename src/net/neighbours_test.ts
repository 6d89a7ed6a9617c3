import assert from "node:assert/strict";
import { parseIpv4 } from "../wire/mod.ts";
import { NeighbourTable, parseProcArp } from "./neighbours.ts";

const TEXT = `IP address       HW type     Flags       HW address            Mask     Device
10.50.0.120      0x1         0x2         52:54:00:AA:00:01     *        eth0
10.50.0.121      0x1         0x0         00:00:00:00:00:00     *        eth0
10.50.0.122      0x1         0x6         52:54:00:aa:00:02     *        eth1
garbage line
`;

Deno.test("parseProcArp: resolved entries only, MACs lower-case", () => {
  const t = parseProcArp(TEXT);
  assert.deepEqual([...t.entries()], [
    [parseIpv4("10.50.0.120"), { mac: "52:54:00:aa:00:01", device: "eth0" }],
    [parseIpv4("10.50.0.122"), { mac: "52:54:00:aa:00:02", device: "eth1" }],
  ]);
});

Deno.test("NeighbourTable: one read per max age", () => {
  let reads = 0;
  const t = new NeighbourTable(60_000, () => (reads++, TEXT), 60_000);
  assert.equal(t.macOf(parseIpv4("10.50.0.120")), "52:54:00:aa:00:01");
  assert.equal(t.macOf(parseIpv4("10.50.0.121")), undefined);
  assert.equal(reads, 1);
});

Deno.test("NeighbourTable: a miss reads again when the snapshot is older than missAgeMs", () => {
  let text = TEXT;
  let reads = 0;
  const t = new NeighbourTable(60_000, () => (reads++, text), 0);
  assert.equal(t.macOf(parseIpv4("10.50.0.130")), undefined);
  text += "10.50.0.130      0x1         0x2         52:54:00:aa:00:30     *        eth0\n";
  // A host that resolved us after the snapshot was taken is found.
  while (t.macOf(parseIpv4("10.50.0.130")) === undefined) { /* until the clock moves */ }
  assert.equal(t.macOf(parseIpv4("10.50.0.120")), "52:54:00:aa:00:01");
  assert.ok(reads >= 2);
});
