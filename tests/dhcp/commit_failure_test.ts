/**
 * A lease commit that fails (a full disk) leaves the server's memory and its
 * database in agreement: the ACK is held back, the decided lease is
 * forgotten, and after a restart on the same database the client is served
 * as if the failed attempt never happened.
 */
import assert from "node:assert/strict";
import { LeaseStore, openStore } from "../../src/store/mod.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { udhcpcArgs, udhcpcEvents, writeUdhcpcScript } from "./_fixture_client.ts";
import { settled, startLogged } from "./_logged.ts";

function dbRows(path: string) {
  const store = openStore(path);
  try {
    return new LeaseStore(store.db).loadAll().map((r) => ({
      ip: formatIpv4(r.ip),
      mac: r.mac,
      state: r.state,
    }));
  } finally {
    store.close();
  }
}

Deno.test({
  name: "a failed lease commit: no ACK, nothing in memory that the database lacks, served after",
  ignore: labSkipReason(["udhcpc"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("cmf", [{ name: "srv", address: "10.91.0.1/24" }, {
      name: "cli",
    }]);
    try {
      const cfg = {
        db: `${dir}/mesh.db`,
        serverIp: "10.91.0.1",
        subnet: "10.91.0.0/24",
        start: "10.91.0.100",
        end: "10.91.0.120",
      };
      const script = await writeUdhcpcScript(dir);
      // Every commit fails: the client is offered an address but never ACKed.
      const failing = await startLogged(lab, "srv", { ...cfg, failCommits: true });
      const first = await lab.exec("cli", udhcpcArgs(script, 2), { timeoutMs: 40_000 });
      assert.ok(
        !udhcpcEvents(first.stdout).some((e) => e.event === "bound"),
        `bound although no commit succeeded: ${first.stdout}`,
      );
      const s1 = await settled(failing);
      await failing.stop();
      assert.ok(s1.offers >= 1, JSON.stringify(s1));
      assert.equal(s1.acks, 0, JSON.stringify(s1));
      assert.ok(s1.dropped.notDurable >= 1, JSON.stringify(s1));
      assert.deepEqual(failing.memory(), [], "memory holds a lease the database never got");
      assert.deepEqual(dbRows(cfg.db), []);

      // The disk has room again: the same client gets its lease, in memory and on disk alike.
      const good = await startLogged(lab, "srv", cfg);
      const second = await lab.exec("cli", udhcpcArgs(script, 10), { timeoutMs: 40_000 });
      const bound = udhcpcEvents(second.stdout).find((e) => e.event === "bound");
      assert.ok(bound, `no lease after the disk recovered: ${second.stdout} ${second.stderr}`);
      await settled(good);
      await good.stop();
      const memory = good.memory();
      assert.deepEqual(memory, dbRows(cfg.db));
      assert.equal(memory?.length, 1);
      assert.equal(memory?.[0]?.ip, bound.ip);
      assert.equal(memory?.[0]?.state, "bound");
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
