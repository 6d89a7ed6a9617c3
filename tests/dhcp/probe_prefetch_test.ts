/**
 * Probing ahead follows demand: once new machines start arriving, the
 * service ARP-probes further ahead in the pool, so the next wave of new
 * machines is offered addresses that are already known to be free instead
 * of each DISCOVER waiting for its own probe.
 */
import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { readLeases, startFixture } from "./_fixture_client.ts";

const CLIENT = new URL("./dora_client.ts", import.meta.url).pathname;
/** More than the 64 addresses kept probed while quiet. */
const WAVE = 80;

Deno.test({
  name: "after a first wave of new machines, the next waves get pre-probed addresses",
  ignore: labSkipReason([]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("ppf", [
      { name: "srv", address: "10.93.0.1/16" },
      { name: "cli" },
    ]);
    try {
      const db = `${dir}/mesh.db`;
      const srv = await startFixture(lab, "srv", {
        db,
        interfaces: [{ name: "eth0", serverIp: "10.93.0.1", subnet: "10.93.0.0/16" }],
        pools: [{ subnet: "10.93.0.0/16", start: "10.93.1.1", end: "10.93.9.254" }],
        probe: true,
        probeTimeoutMs: 100,
        statsEveryMs: 100,
      });
      await srv.waitStats((s) => s.probes !== undefined);
      // Probe waits (DISCOVERs whose address was not probed yet) per wave.
      const waits: number[] = [];
      for (let wave = 1; wave <= 3; wave++) {
        const before = srv.lastStats().probes;
        const r = await lab.exec("cli", [
          Deno.execPath(),
          "run",
          "-A",
          CLIENT,
          JSON.stringify({ count: WAVE, concurrency: WAVE, seed: wave, timeoutMs: 1000 }),
        ], { timeoutMs: 60_000 });
        assert.match(r.stdout, new RegExp(`"done":\\{"acked":${WAVE},"failed":0\\}`), r.stderr);
        await srv.waitStats((s) => s.acks >= wave * WAVE);
        // Machines do not all arrive at once: a pause, as between racks powering up.
        await new Promise((res) => setTimeout(res, 2000));
        waits.push(srv.lastStats().probes - before);
      }
      assert.ok(
        waits[0]! > 0,
        `the first wave finds nothing probed beyond the start window: ${waits}`,
      );
      assert.deepEqual(waits.slice(1), [0, 0], `waves 2 and 3 waited for probes: ${waits}`);
      const bound = (await readLeases(db)).filter((l) => l.state === "bound");
      assert.equal(bound.length, 3 * WAVE);
      assert.equal(new Set(bound.map((l) => l.ip)).size, 3 * WAVE);
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
