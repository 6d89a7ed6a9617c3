import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { startFixture, udhcpcArgs, udhcpcEvents, writeUdhcpcScript } from "./_fixture_client.ts";

const BLASTER = new URL("./fuzz_blaster.ts", import.meta.url).pathname;
/** How long the flood lasts at least, and its rate cap (packets per second). */
const FLOOD_SECONDS = 15;
// A flood far above any real network's DHCP traffic that this 2-core machine
// still reads while other tests run beside it: above what the server can
// read, the kernel drops the real client's packets with the flood's, and that
// measures the machine, not the server.
const RATE = 10_000;

Deno.test({
  name:
    "15 s of random and mutated packets: the server survives, counts drops and keeps serving udhcpc",
  ignore: labSkipReason(["udhcpc"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("fuzz", [{ name: "srv", address: "10.87.0.1/24" }, {
      name: "evil",
    }, {
      name: "cli",
    }]);
    try {
      // The flood's random MACs take every dynamic address with their offers
      // (as they would from Kea or dnsmasq); the real client is a known
      // machine with a reserved address, which the server must keep serving.
      const cliMac = (await lab.exec("cli", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
      const srv = await startFixture(lab, "srv", {
        reservations: [{ mac: cliMac, ip: "10.87.0.5" }],
        db: `${dir}/mesh.db`,
        interfaces: [{ name: "eth0", serverIp: "10.87.0.1", subnet: "10.87.0.0/24" }],
        pools: [{
          subnet: "10.87.0.0/24",
          start: "10.87.0.10",
          end: "10.87.0.250",
          leaseSeconds: 600,
        }],
        statsEveryMs: 500,
      });
      const script = await writeUdhcpcScript(dir);
      const udhcpc = udhcpcArgs(script, 20);
      // The flood is held for a fixed wall time at a bounded rate, not for a
      // packet count: a fast machine must not end it before the client is done.
      const blaster = lab.spawn("evil", [
        Deno.execPath(),
        "run",
        "-A",
        BLASTER,
        JSON.stringify({ count: 10 * FLOOD_SECONDS * RATE, rate: RATE, seed: 42, maxSeconds: 90 }),
      ], { stdout: "piped" });
      const blasterOut = new Response(blaster.stdout).text();
      let blasterDone = false;
      blaster.status.then(() => blasterDone = true);
      const floodStart = performance.now();

      // During: once the flood is under way, a real client still gets a lease.
      // Our replies to the flood's valid DISCOVERs (offers to random MACs,
      // which the bridge floods to every port) also reach the client's raw
      // socket, and can crowd out its ACK: busybox then gives up after three
      // REQUESTs, so it is started again, as a boot script or a DHCP client
      // that retries forever would. Each attempt must still be answered.
      await srv.waitStats((s) => s.dropped.malformed > 10_000, 30_000);
      const attempts: string[] = [];
      let leased = false;
      const clientStart = performance.now();
      for (let i = 0; i < 5 && !leased && !blasterDone; i++) {
        const during = await lab.exec("cli", udhcpc, { timeoutMs: 40_000 });
        leased = udhcpcEvents(during.stdout).some((e) =>
          e.event === "bound" && e.ip === "10.87.0.5"
        );
        attempts.push(`exit ${during.code}: ${during.stdout} ${during.stderr}`);
      }
      const timeToLease = (performance.now() - clientStart) / 1000;
      assert.ok(!blasterDone, `the flood ended (at most 90 s) before the client was served`);
      assert.ok(leased, `no lease during the flood:\n${attempts.join("\n")}`);
      // Hold the flood for its full time, then stop it.
      const left = FLOOD_SECONDS * 1000 - (performance.now() - floodStart);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
      blaster.kill("SIGTERM");
      assert.equal((await blaster.status).code, 0);
      const flood = JSON.parse(await blasterOut) as { sent: number; seconds: number };
      assert.ok(flood.sent > 10_000, `blaster sent only ${flood.sent}`);

      // After: alive, still serving, and the drops are counted.
      const after = await lab.exec("cli", udhcpc, { timeoutMs: 40_000 });
      assert.ok(
        udhcpcEvents(after.stdout).some((e) => e.event === "bound" && e.ip === "10.87.0.5"),
        `no lease after the flood: ${after.stdout} ${after.stderr}`,
      );
      await new Promise((r) => setTimeout(r, 600));
      const s = srv.lastStats();
      // How much of the flood the server read depends on the machine: reported, not asserted.
      assert.ok(s.dropped.malformed > 10_000, JSON.stringify(s));
      assert.equal(s.dropped.errors, 0, JSON.stringify(s));
      console.log(
        `fuzz: flood ${flood.sent} packets in ${flood.seconds.toFixed(1)} s ` +
          `(${Math.round(flood.sent / flood.seconds)}/s), client leased after ` +
          `${timeToLease.toFixed(2)} s (${attempts.length} udhcpc run(s)); server ${
            JSON.stringify(s)
          }`,
      );
      let alive = true;
      try {
        Deno.kill(srv.pid, "SIGCONT");
      } catch {
        alive = false;
      }
      assert.ok(alive, "server process is alive");
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
