import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { readLeases, startFixture } from "./_fixture_client.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";
import { TextLineStream } from "../lib/lines.ts";

const CLIENT = new URL("./dora_client.ts", import.meta.url).pathname;

Deno.test({
  name: "kill -9 during leasing: no address ACKed twice and every ACKed lease survives the restart",
  ignore: labSkipReason() !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("crash", [{ name: "srv", address: "10.86.0.1/20" }, {
      name: "cli",
    }]);
    try {
      const config = {
        db: `${dir}/mesh.db`,
        interfaces: [{ name: "eth0", serverIp: "10.86.0.1", subnet: "10.86.0.0/20" }],
        pools: [{
          subnet: "10.86.0.0/20",
          start: "10.86.1.0",
          end: "10.86.8.255",
          leaseSeconds: 3600,
        }],
        statsEveryMs: 100,
        // Every address is fresh, so every OFFER waits for its ARP probe; keep that short.
        probeTimeoutMs: 50,
      };
      let srv = await startFixture(lab, "srv", config);
      const count = 1500;
      const cli = lab.spawn("cli", [
        Deno.execPath(),
        "run",
        "-A",
        CLIENT,
        JSON.stringify({ count, seed: 7, concurrency: 16, timeoutMs: 300, deadlineMs: 60_000 }),
      ], { stdout: "piped" });
      const acks: { mac: string; ip: string }[] = [];
      let done: { acked: number; failed: number } | undefined;
      const reading = (async () => {
        for await (
          const line of cli.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
            new TextLineStream(),
          )
        ) {
          const o = JSON.parse(line);
          if (o.ack) acks.push(o.ack);
          if (o.done) done = o.done;
        }
      })();

      // Kill the server twice mid-run, each time after it has committed some leases.
      const killedAt: number[] = [];
      for (const after of [200, 700]) {
        await srv.waitStats(
          (s) => s.commits >= 1 && acks.length >= after,
          30_000,
        );
        Deno.kill(srv.pid, "SIGKILL");
        killedAt.push(acks.length);
        await srv.exited;
        srv = await startFixture(lab, "srv", config);
      }
      await cli.status;
      await reading;
      assert.ok(done, "client finished");
      assert.ok(
        killedAt.every((n) => n < count),
        `kills happened mid-run (after ${killedAt} ACKs)`,
      );
      assert.equal(done.failed, 0);
      assert.equal(acks.length, count);

      // No IP was ACKed to two different MACs.
      const owner = new Map<string, string>();
      for (const a of acks) {
        const prev = owner.get(a.ip);
        assert.ok(prev === undefined || prev === a.mac, `${a.ip} ACKed to ${prev} and ${a.mac}`);
        owner.set(a.ip, a.mac);
      }
      // Every ACKed lease is in the database, bound to the MAC that saw the ACK.
      Deno.kill(srv.pid, "SIGTERM");
      await srv.exited;
      const rows = new Map((await readLeases(config.db)).map((r) => [formatIpv4(r.ip), r]));
      for (const a of acks) {
        const r = rows.get(a.ip);
        assert.ok(r, `ACKed ${a.ip} for ${a.mac} is not in the database`);
        assert.equal(r.mac, a.mac);
        assert.equal(r.state, "bound");
      }
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
