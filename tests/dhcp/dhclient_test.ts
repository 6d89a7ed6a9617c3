import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { readLeases, startFixture } from "./_fixture_client.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";

// Short leases so dhclient renews (unicast, RENEWING state) within the test.
const POOL = {
  subnet: "10.83.0.0/24",
  start: "10.83.0.100",
  end: "10.83.0.199",
  router: "10.83.0.1",
  leaseSeconds: 12,
};

Deno.test({
  name: "ISC dhclient gets a lease, renews it, releases it and gets the same address back",
  ignore: labSkipReason(["dhclient"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("dhc", [{ name: "srv", address: "10.83.0.1/24" }, {
      name: "cli",
    }]);
    try {
      const db = `${dir}/mesh.db`;
      await startFixture(lab, "srv", {
        db,
        interfaces: [{ name: "eth0", serverIp: "10.83.0.1", subnet: "10.83.0.0/24" }],
        pools: [POOL],
      });
      const log = `${dir}/events.log`;
      const script = `${dir}/dhclient.sh`;
      // Our own hook: the Debian dhclient-script would rewrite the host's /etc/resolv.conf.
      await Deno.writeTextFile(
        script,
        `#!/bin/sh
case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip addr flush dev "$interface"; ip addr add "$new_ip_address/24" dev "$interface" ;;
  RELEASE|EXPIRE|STOP) ip addr flush dev "$interface" ;;
esac
echo "$reason new=$new_ip_address old=$old_ip_address" >> ${log}
`,
      );
      await Deno.chmod(script, 0o755);
      const mac = (await lab.exec("cli", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
      const base = [
        "dhclient",
        "-v",
        "-sf",
        script,
        "-lf",
        `${dir}/dhclient.leases`,
        "-pf",
        `${dir}/dhclient.pid`,
      ];
      const events = async () => {
        try {
          return (await Deno.readTextFile(log)).trim().split("\n").map((l) => {
            const m = /^(\S+) new=(\S*)/.exec(l)!;
            return { reason: m[1]!, ip: m[2]! };
          });
        } catch {
          return [];
        }
      };

      const first = await lab.exec("cli", [...base, "-1", "eth0"], { timeoutMs: 40_000 });
      assert.equal(first.code, 0, first.stderr);
      const bound = (await events()).find((e) => e.reason === "BOUND");
      assert.ok(bound, `no BOUND: ${first.stderr}`);
      assert.match(bound.ip, /^10\.83\.0\.(1\d\d)$/);

      // The daemonised dhclient renews at T1 (6 s) by unicast to us.
      for (let i = 0; i < 300 && !(await events()).some((e) => e.reason === "RENEW"); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const renew = (await events()).find((e) => e.reason === "RENEW");
      assert.equal(renew?.ip, bound.ip, JSON.stringify(await events()));

      // Release: dhclient -r stops the daemon and sends DHCPRELEASE.
      const rel = await lab.exec("cli", [...base, "-r", "eth0"], { timeoutMs: 20_000 });
      assert.equal(rel.code, 0, rel.stderr);
      let row;
      for (let i = 0; i < 300; i++) {
        row = (await readLeases(db)).find((r) => formatIpv4(r.ip) === bound.ip);
        if (row?.state === "released") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(row && [row.mac, row.state], [mac, "released"]);

      // Re-request: same address, bound again.
      await Deno.writeTextFile(log, "");
      const again = await lab.exec("cli", [...base, "-1", "eth0"], { timeoutMs: 40_000 });
      assert.equal(again.code, 0, again.stderr);
      const back = (await events()).find((e) => e.reason === "BOUND" || e.reason === "REBOOT");
      assert.equal(back?.ip, bound.ip);
      await lab.exec("cli", [...base, "-x", "eth0"]);
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
