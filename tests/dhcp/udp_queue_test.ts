/**
 * The DHCP server's UDP :67 socket (bound so the kernel routes unicast
 * replies and sends no ICMP port-unreachable) is read like every other
 * socket: after real clients' DORAs the server namespace counts no UDP
 * receive errors. Before, it was never read and every request past its
 * small buffer was dropped into RcvbufErrors.
 */
import assert from "node:assert/strict";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";
import { startFixture, udhcpcArgs, udhcpcEvents, writeUdhcpcScript } from "./_fixture_client.ts";

/** The Udp counters of a namespace (/proc/net/snmp). */
async function udpCounters(lab: Lab, host: string): Promise<Record<string, number>> {
  const snmp = (await lab.exec(host, ["cat", "/proc/net/snmp"])).stdout.split("\n")
    .filter((l) => l.startsWith("Udp:"));
  const names = snmp[0]!.split(/\s+/).slice(1);
  const values = snmp[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

Deno.test({
  name: "the DHCP server's UDP socket drops nothing into the kernel's receive errors",
  ignore: labSkipReason(["udhcpc"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("udpq", [
      { name: "srv", address: "10.84.0.1/24" },
      { name: "a" },
      { name: "b" },
      { name: "c" },
    ]);
    try {
      await startFixture(lab, "srv", {
        db: `${dir}/mesh.db`,
        interfaces: [{ name: "eth0", serverIp: "10.84.0.1", subnet: "10.84.0.0/24" }],
        pools: [{ subnet: "10.84.0.0/24", start: "10.84.0.100", end: "10.84.0.199" }],
      });
      const script = await writeUdhcpcScript(dir);
      for (let round = 0; round < 3; round++) {
        for (const host of ["a", "b", "c"]) {
          const r = await lab.exec(host, udhcpcArgs(script, 20), { timeoutMs: 60_000 });
          assert.ok(udhcpcEvents(r.stdout).some((e) => e.event === "bound"), r.stderr);
        }
      }
      const udp = await udpCounters(lab, "srv");
      console.log(`udp counters in the server namespace: ${JSON.stringify(udp)}`);
      assert.equal(udp.RcvbufErrors, 0, JSON.stringify(udp));
      assert.equal(udp.InErrors, 0, JSON.stringify(udp));
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
