/**
 * The existing-DHCP probe against real servers: `mesh net dhcp-probe eth0`
 * run in the central namespace of labs the test builds, with dnsmasq as the
 * "existing" server. One server (every field read, no lease taken, the same
 * probe MAC every time), two servers on one switch, a proxy-only dnsmasq
 * (not an address server), an empty switch (bounded by --span-ms), and a
 * dnsmasq on the central node's own second port (counted as ours).
 */
import { meshIn } from "../lib/mesh_daemon.ts";
import assert from "node:assert/strict";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createNetLab, labSkipReason, type NetLab } from "../lib/netns.ts";

const skip = labSkipReason(["dnsmasq", "udhcpc"]);
const SPAN_MS = 2000;

interface ServerJson {
  serverId: string;
  serverMac: string;
  proxy: boolean;
  offered: string[];
  subnets: string[];
  routers: string[];
  dns: string[];
  leaseTime: number | null;
}
interface ProbeJson {
  interface: string;
  probeMac: string;
  discoversSent: number;
  offers: { serverId: string; yiaddr: string; subnet: string | null; proxy: boolean }[];
  ignored: Record<string, number>;
  servers: { found: boolean; servers: ServerJson[]; subnets: string[] };
  durationMs: number;
}

/** Runs the CLI in the central namespace (no --host0: the probe needs none). */
async function probe(lab: NetLab, json = true, port = "eth0", spanMs: number | null = SPAN_MS) {
  return await meshIn(lab, "c", [
    ...(json ? ["--json"] : []),
    "net",
    "dhcp-probe",
    port,
    ...(spanMs === null ? [] : ["--span-ms", String(spanMs)]),
  ]);
}

async function probeJson(lab: NetLab, spanMs: number | null = SPAN_MS): Promise<ProbeJson> {
  const r = await probe(lab, true, "eth0", spanMs);
  assert.equal(r.code, 0, `mesh net dhcp-probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ProbeJson;
}

async function macOf(lab: NetLab, host: string, port = "eth0"): Promise<string> {
  return (await lab.exec(host, ["cat", `/sys/class/net/${port}/address`])).stdout.trim();
}

/**
 * dnsmasq on `host`'s `port` with its lease file and log in `dir`, awaited
 * until it serves. It pings before offering unless the args say `--no-ping`.
 */
async function dnsmasq(
  lab: NetLab,
  host: string,
  dir: string,
  args: readonly string[],
  port = "eth0",
): Promise<{ leases: string; log: string }> {
  return await startDnsmasq(lab, host, { dir, iface: port, ranges: [], ping: true, extra: args });
}

const labTest = (name: string, fn: (dir: string) => Promise<void>) =>
  Deno.test({
    name,
    ignore: skip !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "mesh-dhcp-probe-" });
      try {
        await fn(dir);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });

labTest(
  "dhcp-probe: one dnsmasq is reported in full, keeps no lease, same probe MAC each time",
  async (dir) => {
    await using lab = await createNetLab("dprobe", {
      switches: ["br0"],
      hosts: [
        { name: "c", ports: [{ name: "eth0", switch: "br0" }] },
        { name: "srv", ports: [{ name: "eth0", switch: "br0", address: "10.50.0.1/24" }] },
        { name: "cli", ports: [{ name: "eth0", switch: "br0" }] },
      ],
    });
    const d = await dnsmasq(lab, "srv", dir, [
      "--dhcp-range=10.50.0.100,10.50.0.150,255.255.255.0,2h",
      "--dhcp-option=3,10.50.0.254",
      "--dhcp-option=6,10.50.0.53,10.50.0.54",
    ]);
    const srvMac = await macOf(lab, "srv");
    const ownMac = await macOf(lab, "c");

    // The default span (4 s): dnsmasq pings the address for 3 s before its first offer.
    const j = await probeJson(lab, null);
    assert.equal(j.interface, "eth0");
    assert.equal(j.discoversSent, 3);
    assert.notEqual(j.probeMac, ownMac);
    assert.equal(parseInt(j.probeMac.slice(0, 2), 16) & 0x03, 0x02, j.probeMac);
    assert.equal(j.servers.found, true);
    assert.equal(j.servers.servers.length, 1, JSON.stringify(j.servers));
    const s = j.servers.servers[0]!;
    assert.equal(s.serverId, "10.50.0.1");
    assert.equal(s.serverMac, srvMac);
    assert.equal(s.proxy, false);
    assert.deepEqual(s.subnets, ["10.50.0.0/24"]);
    assert.deepEqual(s.routers, ["10.50.0.254"]);
    assert.deepEqual(s.dns, ["10.50.0.53", "10.50.0.54"]);
    assert.equal(s.leaseTime, 7200);
    assert.equal(s.offered.length, 1, "dnsmasq keeps offering one address to one client");
    assert.match(s.offered[0]!, /^10\.50\.0\.(1[0-4]\d|150)$/);
    assert.deepEqual(j.servers.subnets, ["10.50.0.0/24"]);

    // Repeated probes: one probe MAC, so one address offered, and dnsmasq,
    // which remembers that address's ping, now answers within --span-ms 2000.
    const again = await probeJson(lab);
    assert.equal(again.probeMac, j.probeMac);
    assert.deepEqual(again.servers.servers[0]?.offered, s.offered);

    const table = await probe(lab, false);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^SERVER\s+MAC\s+OFFERED\s+SUBNET\s+ROUTER\s+DNS\s+LEASE\s+PROXY$/m);
    assert.match(table.stdout, new RegExp(`^10\\.50\\.0\\.1\\s+${srvMac}\\s.*\\s2h\\s+no$`, "m"));

    // A real client does get a lease written: the file works, and the probe is not in it.
    const c = await lab.exec("cli", [
      "udhcpc",
      "-i",
      "eth0",
      "-f",
      "-q",
      "-n",
      "-t",
      "5",
      "-T",
      "1",
      "-s",
      "/bin/true",
    ]);
    assert.equal(c.code, 0, c.stderr);
    const leases = await Deno.readTextFile(d.leases);
    assert.ok(leases.includes(await macOf(lab, "cli")), `udhcpc's lease in ${leases}`);
    assert.ok(!leases.includes(j.probeMac), `probe lease in ${leases}`);
    const log = await Deno.readTextFile(d.log);
    assert.match(log, new RegExp(`DHCPDISCOVER\\(eth0\\) ${j.probeMac}`));
    assert.doesNotMatch(log, new RegExp(`DHCPREQUEST\\(eth0\\).*${j.probeMac}`));
  },
);

labTest("dhcp-probe: two dnsmasq servers on one switch are both reported", async (dir) => {
  await using lab = await createNetLab("dprobe", {
    switches: ["br0"],
    hosts: [
      { name: "c", ports: [{ name: "eth0", switch: "br0" }] },
      { name: "s1", ports: [{ name: "eth0", switch: "br0", address: "10.50.0.1/24" }] },
      { name: "s2", ports: [{ name: "eth0", switch: "br0", address: "10.51.0.1/24" }] },
    ],
  });
  await dnsmasq(lab, "s1", dir, [
    "--no-ping",
    "--dhcp-range=10.50.0.100,10.50.0.150,255.255.255.0,1h",
  ]);
  await dnsmasq(lab, "s2", dir, [
    "--no-ping",
    "--dhcp-range=10.51.0.100,10.51.0.150,255.255.255.0,1h",
  ]);
  const j = await probeJson(lab);
  assert.equal(j.servers.found, true);
  const seen = j.servers.servers.map((s) => [s.serverId, s.serverMac, s.subnets.join()]).sort();
  assert.deepEqual(seen, [
    ["10.50.0.1", await macOf(lab, "s1"), "10.50.0.0/24"],
    ["10.51.0.1", await macOf(lab, "s2"), "10.51.0.0/24"],
  ]);
  assert.deepEqual([...j.servers.subnets].sort(), ["10.50.0.0/24", "10.51.0.0/24"]);
});

labTest("dhcp-probe: a proxy-only dnsmasq is not an address server", async (dir) => {
  await using lab = await createNetLab("dprobe", {
    switches: ["br0"],
    hosts: [
      { name: "c", ports: [{ name: "eth0", switch: "br0" }] },
      { name: "px", ports: [{ name: "eth0", switch: "br0", address: "10.60.0.1/24" }] },
    ],
  });
  await dnsmasq(lab, "px", dir, ["--dhcp-range=10.60.0.0,proxy", "--pxe-service=x86PC,x,undionly"]);
  const j = await probeJson(lab);
  assert.equal(j.servers.found, false, JSON.stringify(j.servers));
  assert.ok(j.servers.servers.every((s) => s.proxy), JSON.stringify(j.servers));
  assert.deepEqual(j.servers.subnets, []);
});

labTest(
  "dhcp-probe: an empty switch answers nothing and the probe ends after --span-ms",
  async () => {
    await using lab = await createNetLab("dprobe", {
      switches: ["br0"],
      hosts: [{ name: "c", ports: [{ name: "eth0", switch: "br0" }] }],
    });
    const j = await probeJson(lab);
    assert.deepEqual(j.offers, []);
    assert.deepEqual(j.servers, { found: false, servers: [], subnets: [] });
    assert.equal(j.discoversSent, 3);
    assert.ok(j.durationMs >= SPAN_MS - 5 && j.durationMs < SPAN_MS + 500, `${j.durationMs} ms`);
    const t = await probe(lab, false);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^no DHCP server answered on eth0 in \d+ ms/m);
    const missing = await probe(lab, false, "eth9");
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim(), "mesh: no such interface: eth9");
  },
);

labTest(
  "dhcp-probe: a server on the central node's own other port is ours, not listed",
  async (dir) => {
    await using lab = await createNetLab("dprobe", {
      switches: ["br0"],
      hosts: [{
        name: "c",
        ports: [
          { name: "eth0", switch: "br0" },
          { name: "eth1", switch: "br0", address: "10.70.0.1/24" },
        ],
      }],
    });
    await dnsmasq(lab, "c", dir, [
      "--no-ping",
      "--dhcp-range=10.70.0.100,10.70.0.150,255.255.255.0,1h",
    ], "eth1");
    const j = await probeJson(lab);
    assert.deepEqual(j.servers.servers, []);
    assert.ok((j.ignored["own-server"] ?? 0) >= 1, JSON.stringify(j.ignored));
  },
);
