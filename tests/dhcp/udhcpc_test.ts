import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import {
  readLeases,
  startFixture,
  udhcpcArgs,
  udhcpcEvents,
  writeUdhcpcScript,
} from "./_fixture_client.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";

const POOL = {
  subnet: "10.81.0.0/24",
  start: "10.81.0.100",
  end: "10.81.0.199",
  router: "10.81.0.1",
  leaseSeconds: 600,
};

Deno.test({
  name: "busybox udhcpc gets a lease, renews by unicast, releases and gets the same address back",
  ignore: labSkipReason(["udhcpc"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("udh", [{ name: "srv", address: "10.81.0.1/24" }, {
      name: "cli",
    }]);
    try {
      const db = `${dir}/mesh.db`;
      const srv = await startFixture(lab, "srv", {
        db,
        interfaces: [{ name: "eth0", serverIp: "10.81.0.1", subnet: "10.81.0.0/24" }],
        pools: [POOL],
        statsEveryMs: 200,
      });
      const script = await writeUdhcpcScript(dir);
      const mac = (await lab.exec("cli", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();

      // 1. Plain DORA.
      const first = await lab.exec("cli", udhcpcArgs(script, 20), { timeoutMs: 30_000 });
      const bound = udhcpcEvents(first.stdout).find((e) => e.event === "bound");
      assert.ok(bound, `no lease: ${first.stdout}\n${first.stderr}`);
      const n = Number(bound.ip.split(".")[3]);
      assert.ok(bound.ip.startsWith("10.81.0.") && n >= 100 && n <= 199, bound.ip);
      assert.match(first.stdout, /serverid=10\.81\.0\.1 lease=600 router=10\.81\.0\.1/);

      // 2. Renew by unicast (SIGUSR1), then release (SIGUSR2), with a long-running udhcpc.
      const daemon = lab.spawn("cli", [
        "udhcpc",
        "-i",
        "eth0",
        "-f",
        "-t",
        "5",
        "-T",
        "1",
        "-s",
        script,
      ], { stdout: "piped" });
      const out: string[] = [];
      const pump = (async () => {
        for await (const c of daemon.stdout.pipeThrough(new TextDecoderStream())) out.push(c);
      })();
      const waitFor = async (pred: () => boolean, what: string) => {
        for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(pred(), `${what}: ${out.join("")}`);
      };
      await waitFor(
        () => udhcpcEvents(out.join("")).some((e) => e.event === "bound"),
        "daemon bound",
      );
      assert.equal(
        udhcpcEvents(out.join("")).find((e) => e.event === "bound")!.ip,
        bound.ip,
        "same address again",
      );
      const before = srv.lastStats().replied;
      daemon.kill("SIGUSR1");
      await waitFor(() => udhcpcEvents(out.join("")).some((e) => e.event === "renew"), "renew");
      assert.equal(udhcpcEvents(out.join("")).find((e) => e.event === "renew")!.ip, bound.ip);
      await srv.waitStats((s) => s.replied > before);
      daemon.kill("SIGUSR2");
      await waitFor(
        () =>
          udhcpcEvents(out.join("")).some((e) => e.event === "deconfig") &&
          out.join("").split("EVENT deconfig").length > 2,
        "release",
      );
      // RELEASE has no reply to wait for: poll the database (bounded)
      for (let i = 0; i < 300; i++) {
        const row = (await readLeases(db)).find((r) => formatIpv4(r.ip) === bound.ip);
        if (row?.state === "released") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      daemon.kill("SIGTERM");
      await daemon.status;
      await pump;
      const released = (await readLeases(db)).find((r) => formatIpv4(r.ip) === bound.ip);
      assert.deepEqual(released && { mac: released.mac, state: released.state }, {
        mac,
        state: "released",
      });

      // 3. Re-request after release: the same address comes back, bound again.
      const again = await lab.exec("cli", udhcpcArgs(script, 20), { timeoutMs: 30_000 });
      assert.equal(udhcpcEvents(again.stdout).find((e) => e.event === "bound")?.ip, bound.ip);
      await srv.waitStats((s) => s.commits >= 4);
      const rows = await readLeases(db);
      assert.deepEqual(rows.map((r) => [formatIpv4(r.ip), r.mac, r.state]), [[
        bound.ip,
        mac,
        "bound",
      ]]);
      assert.equal(srv.lastStats().dropped.malformed, 0);
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
