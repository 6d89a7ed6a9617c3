import assert from "node:assert/strict";
import { createLab, labSkipReason, run } from "../lib/netns.ts";
import { startFixture, udhcpcArgs, udhcpcEvents, writeUdhcpcScript } from "./_fixture_client.ts";

Deno.test({
  name: "a client behind a dnsmasq relay gets an address from the relay subnet's pool",
  ignore: labSkipReason(["udhcpc", "dnsmasq"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    // Two switches: the server's segment (srv, relay) and the client's (relay's eth1, cli).
    await using core = await createLab("rla", [{ name: "srv", address: "10.84.0.1/24" }, {
      name: "relay",
      address: "10.84.0.2/24",
    }]);
    await using edge = await createLab("rlb", [{ name: "up" }, { name: "cli" }]);
    try {
      // Move the edge lab's "up" port into the relay namespace as eth1.
      for (
        const cmd of [
          ["ip", "-n", edge.ns("up"), "link", "set", "eth0", "down"],
          ["ip", "-n", edge.ns("up"), "link", "set", "eth0", "name", "eth1"],
          ["ip", "-n", edge.ns("up"), "link", "set", "eth1", "netns", core.ns("relay")],
          ["ip", "-n", core.ns("relay"), "addr", "add", "10.85.0.1/24", "dev", "eth1"],
          ["ip", "-n", core.ns("relay"), "link", "set", "eth1", "up"],
        ]
      ) {
        const r = await run(cmd);
        assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
      }
      assert.equal(
        (await core.exec("srv", ["ip", "route", "add", "10.85.0.0/24", "via", "10.84.0.2"])).code,
        0,
      );

      await startFixture(core, "srv", {
        db: `${dir}/mesh.db`,
        interfaces: [{ name: "eth0", serverIp: "10.84.0.1", subnet: "10.84.0.0/24" }],
        pools: [
          { subnet: "10.84.0.0/24", start: "10.84.0.100", end: "10.84.0.199", leaseSeconds: 600 },
          {
            subnet: "10.85.0.0/24",
            start: "10.85.0.100",
            end: "10.85.0.199",
            router: "10.85.0.1",
            leaseSeconds: 600,
          },
        ],
      });
      core.spawn("relay", [
        "dnsmasq",
        "-k",
        "--port=0",
        "--user=root",
        "--bind-interfaces",
        "--interface=eth1",
        "--dhcp-relay=10.85.0.1,10.84.0.1",
        "--pid-file=" + `${dir}/relay.pid`,
        "--log-facility=" + `${dir}/relay.log`,
      ]);
      // the relay is up once it writes its pid file (bounded wait)
      for (let i = 0; i < 100; i++) {
        try {
          if ((await Deno.readTextFile(`${dir}/relay.pid`)).trim() !== "") break;
        } catch { /* not yet */ }
        await new Promise((r) => setTimeout(r, 100));
      }
      const script = await writeUdhcpcScript(dir);
      const res = await edge.exec("cli", udhcpcArgs(script, 6), {
        timeoutMs: 30_000,
      });
      const bound = udhcpcEvents(res.stdout).find((e) => e.event === "bound");
      let relayLog = "";
      try {
        relayLog = await Deno.readTextFile(`${dir}/relay.log`);
      } catch { /* none */ }
      assert.ok(bound, `no lease through the relay:\n${res.stdout}\n${res.stderr}\n${relayLog}`);
      assert.match(bound.ip, /^10\.85\.0\.1\d\d$/);
      assert.match(res.stdout, /router=10\.85\.0\.1/);
    } finally {
      await edge.cleanup();
      await core.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
