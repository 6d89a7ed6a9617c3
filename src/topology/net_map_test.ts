import assert from "node:assert/strict";
import { parseCidr, parseIpv4 } from "../wire/mod.ts";
import { buildNetMap, type NetMapInput, type PortState } from "./net_map.ts";
import { groupSegments } from "./segments.ts";

const port = (name: string, mac: string, more: Partial<PortState> = {}): PortState => ({
  name,
  mac,
  carrier: true,
  addresses: [],
  mode: "auto",
  ...more,
});

/** The acceptance lab's five ports: eth0+eth1 on one switch, eth2 with a DHCP'd host, eth3 alone, eth4 dark. */
const PORTS = [
  port("eth0", "02:00:00:00:00:10", { mode: "server" }),
  port("eth1", "02:00:00:00:00:11"),
  port("eth2", "02:00:00:00:00:12"),
  port("eth3", "02:00:00:00:00:13", { mode: "server" }),
  port("eth4", "02:00:00:00:00:14", { carrier: false }),
];

function input(ports: readonly PortState[], more: Partial<NetMapInput> = {}): NetMapInput {
  const scanned = ports.filter((p) => p.carrier && p.mode !== "off");
  const together = scanned.some((p) => p.name === "eth0") && scanned.some((p) => p.name === "eth1");
  return {
    ports,
    groups: groupSegments(scanned, together ? [{ heardOn: "eth1", from: "eth0" }] : []),
    neighbours: [{ mac: "02:aa:00:00:00:01", ip: parseIpv4("192.168.50.1"), interface: "eth2" }],
    previous: [],
    allocations: [],
    pools: [parseCidr("192.168.0.0/16")],
    size: 24,
    holdMs: 86_400_000,
    now: 1_000,
    ...more,
  };
}

Deno.test("buildNetMap: the five-port lab as a map", () => {
  const map = buildNetMap(input(PORTS));
  const byIf = (n: string) => map.segments.find((s) => s.interfaces.includes(n))!;
  assert.deepEqual(byIf("eth0").interfaces, ["eth0", "eth1"]);
  assert.equal(byIf("eth0").id, "seg-020000000010");
  assert.equal(byIf("eth0").serving, "eth0");
  assert.equal(byIf("eth0").mode, "server");
  assert.equal(byIf("eth0").served, true);
  assert.equal(byIf("eth0").subnet, "192.168.0.0/24");
  assert.equal(byIf("eth0").address, "192.168.0.1");
  assert.deepEqual(byIf("eth2").neighbours, [
    { mac: "02:aa:00:00:00:01", ip: "192.168.50.1", interface: "eth2" },
  ]);
  assert.equal(byIf("eth2").mode, "auto");
  assert.equal(byIf("eth2").served, false);
  // Planned for auto too (by segment id), so it is ready once it is served.
  assert.equal(byIf("eth2").subnet, "192.168.1.0/24");
  assert.equal(byIf("eth3").subnet, "192.168.2.0/24");
  assert.equal(byIf("eth4").link, "down");
  assert.equal(byIf("eth4").subnet, null);
  assert.equal(byIf("eth4").reason, "no carrier on any port");
  // No subnet overlaps the neighbour's /24.
  for (const s of map.segments) assert.notEqual(s.subnet, "192.168.50.0/24");
  assert.deepEqual(map.served.map((s) => [s.interface, s.serverIp]), [
    ["eth0", parseIpv4("192.168.0.1")],
    ["eth3", parseIpv4("192.168.2.1")],
  ]);
  assert.equal(map.events.filter((e) => e.kind === "segment-added").length, 4);
});

Deno.test("buildNetMap: the same inputs from the stored map give the same subnets and no events", () => {
  const first = buildNetMap(input(PORTS));
  const previous = first.segments.map((s) => ({
    id: s.id,
    macs: first.macs.get(s.id)!,
    report: s,
  }));
  const again = buildNetMap(input(PORTS, { previous, allocations: first.allocations, now: 2_000 }));
  assert.deepEqual(again.segments.map((s) => s.subnet), first.segments.map((s) => s.subnet));
  assert.deepEqual(again.events, []);
});

Deno.test("buildNetMap: a port unplugged and plugged back keeps its subnet", () => {
  const first = buildNetMap(input(PORTS));
  const store = (m: typeof first) => ({
    previous: m.segments.map((s) => ({ id: s.id, macs: m.macs.get(s.id)!, report: s })),
    allocations: m.allocations,
  });
  const unplugged = PORTS.map((p) => p.name === "eth3" ? { ...p, carrier: false } : p);
  const away = buildNetMap(input(unplugged, { ...store(first), now: 5_000 }));
  const eth3 = away.segments.find((s) => s.interfaces.includes("eth3"))!;
  assert.equal(eth3.link, "down");
  assert.equal(eth3.served, false);
  assert.ok(away.events.some((e) => e.kind === "segment-changed" && e.segment === eth3.id));
  // While it is away, a new segment does not get its subnet.
  assert.ok(away.allocations.some((a) => a.segment === eth3.id));
  const back = buildNetMap(input(PORTS, { ...store(away), now: 9_000 }));
  assert.equal(back.segments.find((s) => s.interfaces.includes("eth3"))!.subnet, "192.168.2.0/24");
});

Deno.test("buildNetMap: the segment keeps its id (and subnet) when its lowest-MAC port goes dark", () => {
  const first = buildNetMap(input(PORTS));
  const previous = first.segments.map((s) => ({
    id: s.id,
    macs: first.macs.get(s.id)!,
    report: s,
  }));
  const dark = PORTS.map((p) => p.name === "eth0" ? { ...p, carrier: false } : p);
  const m = buildNetMap(input(dark, { previous, allocations: first.allocations, now: 3_000 }));
  const eth1 = m.segments.find((s) => s.interfaces.includes("eth1"))!;
  assert.equal(eth1.id, "seg-020000000010");
  assert.equal(eth1.subnet, "192.168.0.0/24");
  // The dark port stays where it was last seen; the segment is served from eth1.
  assert.deepEqual(eth1.interfaces, ["eth1", "eth0"]);
  assert.equal(eth1.serving, "eth1");
  assert.equal(eth1.address, "192.168.0.1");
});

Deno.test("buildNetMap: a pinned subnet and address win; an address already on the port is kept", () => {
  const ports = PORTS.map((p) =>
    p.name === "eth3"
      ? { ...p, pinnedSubnet: parseCidr("10.9.0.0/24"), pinnedAddress: parseIpv4("10.9.0.254") }
      : p.name === "eth0"
      ? { ...p, addresses: [{ ip: parseIpv4("192.168.0.7"), prefix: 24 }] }
      : p
  );
  const m = buildNetMap(input(ports));
  const eth3 = m.segments.find((s) => s.interfaces.includes("eth3"))!;
  assert.deepEqual([eth3.subnet, eth3.address], ["10.9.0.0/24", "10.9.0.254"]);
  // eth0's own 192.168.0.7/24 is on the wire already: the plan steps around it.
  const eth0 = m.segments.find((s) => s.interfaces.includes("eth0"))!;
  assert.equal(eth0.subnet, "192.168.1.0/24");
  assert.equal(eth0.address, "192.168.1.1");
});

Deno.test("buildNetMap: an exhausted pool refuses that segment by name; the others are served", () => {
  const m = buildNetMap(input(PORTS, { pools: [parseCidr("192.168.0.0/24")] }));
  const served = m.segments.filter((s) => s.served);
  const refused = m.segments.filter((s) => s.mode === "server" && !s.served);
  assert.equal(served.length, 1);
  assert.equal(refused.length, 1);
  assert.match(refused[0]!.reason, /192\.168\.0\.0\/24/);
  assert.match(refused[0]!.reason, new RegExp(refused[0]!.id));
});

Deno.test("buildNetMap: mode off stands alone and is never served", () => {
  const ports = PORTS.map((p) => p.name === "eth3" ? { ...p, mode: "off" as const } : p);
  const m = buildNetMap(input(ports));
  const eth3 = m.segments.find((s) => s.interfaces.includes("eth3"))!;
  assert.deepEqual([eth3.mode, eth3.served, eth3.subnet], ["off", false, null]);
});

Deno.test("buildNetMap: made-up neighbours all over the pool neither move a kept subnet nor block the pool", () => {
  const first = buildNetMap(input(PORTS, { pools: [parseCidr("10.0.0.0/16")] }));
  const previous = first.segments.map((s) => ({
    id: s.id,
    macs: first.macs.get(s.id)!,
    report: s,
  }));
  // A host on eth2 claims an address in every /24 of the pool (a thousand senders).
  const flood = Array.from({ length: 1024 }, (_, i) => ({
    mac: `02:ee:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
      (i & 255).toString(16).padStart(2, "0")
    }`,
    ip: parseIpv4(`10.0.${i & 255}.${1 + (i >> 8)}`),
    interface: "eth2",
  }));
  const more = [...PORTS, port("eth5", "02:00:00:00:00:15", { mode: "server" })];
  const m = buildNetMap(input(more, {
    pools: [parseCidr("10.0.0.0/16")],
    neighbours: flood,
    previous,
    allocations: first.allocations,
    now: 2_000,
  }));
  for (const s of first.segments.filter((s) => s.subnet !== null)) {
    assert.equal(m.segments.find((x) => x.id === s.id)?.subnet, s.subnet, s.id);
  }
  // The new port still gets a subnet: the flood blocks at most 16 of the 256.
  const eth5 = m.segments.find((s) => s.interfaces.includes("eth5"))!;
  assert.ok(eth5.subnet !== null && eth5.served, eth5.reason);
});

Deno.test("buildNetMap: auto with a DHCP server found is proxy, with its subnet and no pool subnet", () => {
  const dhcpSeg = buildNetMap(input(PORTS)).segments.find((s) => s.interfaces.includes("eth2"))!.id;
  const quietSeg =
    buildNetMap(input(PORTS)).segments.find((s) => s.interfaces.includes("eth1"))!.id;
  const dhcp = new Map([
    [dhcpSeg, {
      servers: [{
        serverId: "192.168.50.1",
        serverMac: "02:aa:00:00:00:01",
        subnets: ["192.168.50.0/24"],
        proxy: false,
      }],
    }],
    [quietSeg, { servers: [] }],
  ]);
  const m = buildNetMap(input(PORTS, { dhcp }));
  const eth2 = m.segments.find((s) => s.id === dhcpSeg)!;
  assert.deepEqual([eth2.mode, eth2.served, eth2.subnet, eth2.address], [
    "proxy",
    true,
    "192.168.50.0/24",
    null,
  ]);
  assert.match(eth2.reason, /taking an address there by DHCP/);
  assert.ok(!m.allocations.some((a) => a.segment === dhcpSeg));
  assert.deepEqual(m.served.find((s) => s.segment === dhcpSeg), {
    kind: "proxy",
    segment: dhcpSeg,
    interface: "eth2",
    subnet: parseCidr("192.168.50.0/24"),
    serverIp: null,
  });
  // With an address already on the port in that subnet, that is ours there.
  const withAddr = PORTS.map((p) =>
    p.name === "eth2" ? { ...p, addresses: [{ ip: parseIpv4("192.168.50.9"), prefix: 24 }] } : p
  );
  const m2 = buildNetMap(input(withAddr, { dhcp }));
  assert.equal(m2.segments.find((s) => s.id === dhcpSeg)!.address, "192.168.50.9");
});
