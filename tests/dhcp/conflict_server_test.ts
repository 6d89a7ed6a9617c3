/**
 * The ARP conflict probe through the running service: a neighbour that
 * squats on the first free pool address answers the probe, so udhcpc is
 * offered the next one and the squatted address is quarantined.
 */
import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { readLeases, startFixture, udhcpcEvents, writeUdhcpcScript } from "./_fixture_client.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";

Deno.test({
  name: "a neighbour answering ARP for the first free address makes udhcpc get another one",
  ignore: labSkipReason(["udhcpc"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("cps", [
      { name: "srv", address: "10.89.0.1/24" },
      // Statically configured, unknown to the DHCP server: sits on the pool's first address.
      { name: "squat", address: "10.89.0.100/24" },
      { name: "cli" },
    ]);
    try {
      const db = `${dir}/mesh.db`;
      const srv = await startFixture(lab, "srv", {
        db,
        interfaces: [{ name: "eth0", serverIp: "10.89.0.1", subnet: "10.89.0.0/24" }],
        pools: [{
          subnet: "10.89.0.0/24",
          start: "10.89.0.100",
          end: "10.89.0.110",
          leaseSeconds: 600,
        }],
        probe: true,
        probeTimeoutMs: 3000,
        statsEveryMs: 200,
      });
      const script = await writeUdhcpcScript(dir);
      const res = await lab.exec("cli", [
        "udhcpc",
        "-i",
        "eth0",
        "-f",
        "-q",
        "-n",
        "-t",
        "10",
        "-T",
        "2",
        "-s",
        script,
      ], { timeoutMs: 40_000 });
      const bound = udhcpcEvents(res.stdout).find((e) => e.event === "bound");
      assert.ok(bound, `no lease: ${res.stdout}\n${res.stderr}`);
      assert.equal(bound.ip, "10.89.0.101");
      await srv.waitStats((s) => s.conflicts >= 1 && s.acks >= 1);
      const rows = (await readLeases(db)).map((r) => [formatIpv4(r.ip), r.mac, r.state]);
      const cliMac = (await lab.exec("cli", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
      // Quarantined by the server's probe (no client MAC), not by a client DECLINE.
      assert.deepEqual(rows, [
        ["10.89.0.100", "00:00:00:00:00:00", "declined"],
        ["10.89.0.101", cliMac, "bound"],
      ]);
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
