/**
 * `mesh serve` on the network it scans: two ports in `mode: server` with no
 * address and no subnet in mesh.yaml, each on its own switch with a client.
 * The daemon carves a subnet for each from `subnet_pool`, puts its address
 * on the port, and serves; a port unplugged stops being served while the
 * other keeps serving, and gets its subnet back when plugged in; a stop
 * takes the addresses away, and a restart gives every segment its subnet again.
 */
import assert from "node:assert/strict";
import { copyTree } from "../config_corpus/tree.ts";
import { type Daemon, EXAMPLE, startDaemon, stopDaemon, waitForLog } from "../lib/mesh_daemon.ts";
import { createNetLab, labSkipReason, type NetLab } from "../lib/netns.ts";
import { dhcpOnce } from "../lib/serve_checks.ts";

const skip = labSkipReason(["udhcpc"]);

async function addresses(lab: NetLab, port: string): Promise<string[]> {
  const r = await lab.exec("c", ["ip", "-j", "-4", "addr", "show", "dev", port]);
  const rows = JSON.parse(r.stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
  return rows.flatMap((x) => x.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

function leased(out: string): string {
  const m = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(out);
  assert.ok(m, `no lease: ${out}`);
  return m[1]!;
}

const within = (ip: string, cidr: string) => {
  const [net, prefix] = cidr.split("/");
  const n = (s: string) => s.split(".").reduce((a, b) => a * 256 + Number(b), 0);
  const size = 2 ** (32 - Number(prefix));
  return Math.floor(n(ip) / size) === Math.floor(n(net!) / size);
};

Deno.test({
  name:
    "mesh serve: subnets carved per segment, addresses put on and taken off, a port unplugged and back",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createNetLab("snet", {
      switches: ["swa", "swb"],
      hosts: [
        { name: "c", ports: [{ name: "eth0", switch: "swa" }, { name: "eth1", switch: "swb" }] },
        { name: "a", ports: [{ name: "eth0", switch: "swa" }] },
        { name: "b", ports: [{ name: "eth0", switch: "swb" }] },
      ],
    });
    const tmp = await Deno.makeTempDir({ prefix: "mesh-serve-net-" });
    const host0 = `${tmp}/host0`;
    await copyTree(EXAMPLE, host0);
    await Deno.writeTextFile(
      `${host0}/mesh.yaml`,
      `state_dir: ${tmp}/state
subnet_pool:
  - 10.120.0.0/16
interfaces:
  eth0: { mode: server }
  eth1: { mode: server }
`,
    );
    let d: Daemon | undefined;
    try {
      d = startDaemon(lab, "c", host0);
      const ready = await d.ready;
      assert.deepEqual([...(ready.properties as { dhcp: string[] }).dhcp].sort(), ["eth0", "eth1"]);
      const served = d.logs.filter((r) => r.message === "segment served")
        .map((r) => r.properties as { if: string; subnet: string; address: string });
      const subnet = (port: string) => served.find((s) => s.if === port)!.subnet;
      assert.notEqual(subnet("eth0"), subnet("eth1"));
      for (const port of ["eth0", "eth1"]) {
        assert.ok(subnet(port).startsWith("10.120."), subnet(port));
        const own = served.find((s) => s.if === port)!.address;
        assert.deepEqual(await addresses(lab, port), [`${own}/${subnet(port).split("/")[1]}`]);
      }
      assert.ok(within(leased((await dhcpOnce(lab, "a")).stderr), subnet("eth0")));
      assert.ok(within(leased((await dhcpOnce(lab, "b")).stderr), subnet("eth1")));

      // Unplugged: eth1's segment stops being served, eth0's goes on untouched.
      let since = d.logs.length;
      await lab.plug("c", "eth1", false);
      const gone = await waitForLog(d, "segment no longer served", { since });
      assert.equal((gone.properties as { if: string }).if, "eth1");
      assert.deepEqual(await addresses(lab, "eth1"), []);
      assert.ok(within(leased((await dhcpOnce(lab, "a")).stderr), subnet("eth0")));
      assert.ok(
        !d.logs.slice(since).some((r) =>
          r.message === "segment no longer served" && (r.properties as { if: string }).if === "eth0"
        ),
      );

      // Plugged back: the same subnet, served again.
      since = d.logs.length;
      await lab.plug("c", "eth1", true);
      const back = await waitForLog(d, "segment served", { since });
      assert.deepEqual(
        [(back.properties as { if: string }).if, (back.properties as { subnet: string }).subnet],
        ["eth1", subnet("eth1")],
      );
      assert.ok(within(leased((await dhcpOnce(lab, "b")).stderr), subnet("eth1")));

      // A stop takes the addresses it added away.
      assert.equal((await stopDaemon(d)).code, 0);
      for (const port of ["eth0", "eth1"]) assert.deepEqual(await addresses(lab, port), []);

      // A restart gives every segment its subnet again.
      d = startDaemon(lab, "c", host0);
      await d.ready;
      const again = d.logs.filter((r) => r.message === "segment served")
        .map((r) => r.properties as { if: string; subnet: string });
      for (const port of ["eth0", "eth1"]) {
        assert.equal(again.find((s) => s.if === port)?.subnet, subnet(port), port);
      }
    } finally {
      if (d) await stopDaemon(d);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
