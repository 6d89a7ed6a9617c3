/**
 * The network scan on a lab the test builds: a central namespace with five
 * ports (two into switch A, one into switch B where dnsmasq serves its own
 * subnet, one into switch C with a silent host, one whose switch side is
 * down), scanned with `mesh net scan --json` and nothing in mesh.yaml but
 * `subnet_pool`. Then: allocations survive the next scan, a port unplugged
 * and plugged back keeps its subnet, a pinned subnet wins, a second pool is
 * used when the first is full, an exhausted pool refuses a segment by name.
 */
import { meshIn } from "../lib/mesh_daemon.ts";
import assert from "node:assert/strict";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createNetLab, labSkipReason, type NetLab } from "../lib/netns.ts";

const skip = labSkipReason(["dnsmasq"]);

interface Segment {
  id: string;
  interfaces: string[];
  link: string;
  subnet: string | null;
  address: string | null;
  neighbours: { mac: string; ip: string; interface: string }[];
  seen: string[];
  dhcp:
    | { servers: { serverId: string; serverMac: string; subnets: string[]; proxy: boolean }[] }
    | null;
  mode: string;
  served: boolean;
  reason: string;
}
interface ScanJson {
  segments: Segment[];
  scan: { ms: number; ignored: Record<string, number> };
  committed: boolean;
}

async function buildLab(): Promise<NetLab> {
  const lab = await createNetLab("scan", {
    switches: ["swa", "swb", "swc", "swd"],
    hosts: [
      {
        name: "c",
        ports: [
          { name: "eth0", switch: "swa" },
          { name: "eth1", switch: "swa" },
          { name: "eth2", switch: "swb" },
          { name: "eth3", switch: "swc" },
          { name: "eth4", switch: "swd", carrier: false },
        ],
      },
      { name: "dhcp", ports: [{ name: "eth0", switch: "swb", address: "10.50.0.1/24" }] },
      { name: "quiet", ports: [{ name: "eth0", switch: "swc" }] },
    ],
  });
  try {
    // dnsmasq as it ships: it pings an address before its first offer of it.
    await startDnsmasq(lab, "dhcp", {
      dir: lab.dir,
      ranges: ["10.50.0.100,10.50.0.150,255.255.255.0,1h"],
      ping: true,
    });
    // A LAN's hosts talk: dnsmasq's host keeps asking for an absent address,
    // and the scan hears its ARP requests (retrans 50 ms, so some fall inside any scan).
    await lab.exec("dhcp", ["sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=50"]);
    lab.spawn("dhcp", ["ping", "-q", "-i", "0.05", "-c", "4000", "10.50.0.77"]);
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
  return lab;
}

async function host0(yaml: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-scan-host0-" });
  await Deno.writeTextFile(`${dir}/mesh.yaml`, yaml);
  return dir;
}

async function scan(lab: NetLab, dir: string, state: string): Promise<ScanJson> {
  const r = await meshIn(lab, "c", ["--host0", dir, "--state", state, "--json", "net", "scan"]);
  assert.equal(r.code, 0, `mesh net scan failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScanJson;
}

const by = (j: ScanJson, ifname: string) => {
  const s = j.segments.find((s) => s.interfaces.includes(ifname));
  assert.ok(s, `no segment with ${ifname}: ${JSON.stringify(j.segments)}`);
  return s;
};

const inPool = (cidr: string | null, prefix: string) =>
  cidr !== null && cidr.startsWith(prefix) && cidr.endsWith("/24");

Deno.test({
  name: "mesh net scan: five ports, three switches and a dark port, from subnet_pool alone",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await buildLab();
    const dir = await host0("subnet_pool:\n  - 10.77.0.0/16\n");
    const state = `${dir}/state`;
    const mac = (await lab.exec("dhcp", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
    try {
      const j = await scan(lab, dir, state);
      assert.equal(j.committed, true);
      assert.deepEqual(by(j, "eth0").interfaces, ["eth0", "eth1"]);
      assert.equal(by(j, "eth0").link, "up");
      const b = by(j, "eth2");
      assert.deepEqual(b.interfaces, ["eth2"]);
      assert.ok(
        b.neighbours.some((n) => n.mac === mac && n.ip === "10.50.0.1" && n.interface === "eth2"),
        `dnsmasq's host among ${JSON.stringify(b.neighbours)}`,
      );
      assert.deepEqual(b.seen, ["10.50.0.0/24"]);
      // dnsmasq answers the probe: proxy there, in dnsmasq's subnet, never full DHCP.
      assert.deepEqual(
        b.dhcp?.servers.map((x) => [x.serverId, x.serverMac, x.subnets, x.proxy]),
        [["10.50.0.1", mac, ["10.50.0.0/24"], false]],
      );
      assert.deepEqual([b.mode, b.subnet], ["proxy", "10.50.0.0/24"]);
      assert.equal(by(j, "eth0").mode, "server");
      const c = by(j, "eth3");
      assert.deepEqual(c.interfaces, ["eth3"]);
      assert.ok(inPool(c.subnet, "10.77."), `eth3 subnet ${c.subnet}`);
      assert.deepEqual(c.neighbours, []);
      assert.deepEqual([c.mode, c.dhcp], ["server", { servers: [] }]);
      const d = by(j, "eth4");
      assert.equal(d.link, "down");
      assert.equal(j.segments.length, 4);
      // Every planned subnet is distinct and clear of dnsmasq's 10.50.0.0/24.
      const subnets = j.segments.filter((s) => s.mode !== "proxy").map((s) => s.subnet)
        .filter((s) => s !== null);
      assert.equal(new Set(subnets).size, subnets.length);
      assert.ok(!subnets.includes("10.50.0.0/24"));

      // The next scan (a restart) keeps every allocation.
      const again = await scan(lab, dir, state);
      for (const s of j.segments) {
        assert.equal(again.segments.find((x) => x.id === s.id)?.subnet, s.subnet, s.id);
      }

      // Unplugged: link down, its subnet held; plugged back: the same subnet.
      await lab.plug("c", "eth3", false);
      const away = await scan(lab, dir, state);
      assert.equal(by(away, "eth3").link, "down");
      await lab.plug("c", "eth3", true);
      await waitCarrier(lab, "eth3");
      const back = await scan(lab, dir, state);
      assert.equal(by(back, "eth3").subnet, c.subnet);
      assert.equal(by(back, "eth3").id, c.id);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "mesh net scan: a pinned subnet wins, a second pool takes over, an exhausted pool refuses by name",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await buildLab();
    const pinned = await host0(
      "subnet_pool:\n  - 10.77.0.0/16\ninterfaces:\n  eth3:\n    subnet: 10.99.3.0/24\n",
    );
    // One /24 in the first pool: the first segment by id takes it, the rest come from the second.
    const two = await host0("subnet_pool:\n  - 10.77.0.0/24\n  - 10.78.0.0/16\n");
    const full = await host0("subnet_pool:\n  - 10.77.0.0/24\n");
    try {
      const p = await scan(lab, pinned, `${pinned}/state`);
      assert.equal(by(p, "eth3").subnet, "10.99.3.0/24");
      assert.ok(inPool(by(p, "eth0").subnet, "10.77."));

      const t = await scan(lab, two, `${two}/state`);
      const planned = t.segments.filter((s) => s.subnet !== null && s.mode !== "proxy")
        .map((s) => s.subnet);
      assert.deepEqual(planned.filter((s) => s === "10.77.0.0/24").length, 1);
      assert.ok(planned.filter((s) => s !== "10.77.0.0/24").every((s) => inPool(s, "10.78.")));

      const f = await scan(lab, full, `${full}/state`);
      const refused = f.segments.filter((s) =>
        s.link === "up" && s.subnet === null && s.mode === "server"
      );
      assert.ok(refused.length >= 1, JSON.stringify(f.segments));
      for (const s of refused) {
        assert.match(s.reason, /10\.77\.0\.0\/24/);
        assert.ok(s.reason.includes(s.id), s.reason);
      }
      assert.equal(f.segments.filter((s) => s.subnet === "10.77.0.0/24").length, 1);
    } finally {
      for (const d of [pinned, two, full]) await Deno.remove(d, { recursive: true });
    }
  },
});

async function waitCarrier(lab: NetLab, port: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await lab.exec("c", ["cat", `/sys/class/net/${port}/carrier`]);
    if (r.stdout.trim() === "1") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${port} has no carrier after 5 s`);
}
