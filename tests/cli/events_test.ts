/**
 * `mesh events --follow --json` while a node boots: the DHCP steps of a lab
 * client (busybox udhcpc against a running `mesh serve`) show up live, from
 * the state database; `-n <mac>` keeps only that node's events.
 */
import assert from "node:assert/strict";
import { copyTree } from "../config_corpus/tree.ts";
import { type Daemon, EXAMPLE, meshCommand, startDaemon, stopDaemon } from "../lib/mesh_daemon.ts";
import { TextLineStream } from "../lib/lines.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { dhcpOnce } from "../lib/serve_checks.ts";

const skip = labSkipReason(["udhcpc"]);

Deno.test({
  name: "mesh events --follow: a node's DHCP steps, live",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createLab("evt", [
      { name: "srv", address: "10.96.0.1/24" },
      { name: "cli" },
    ]);
    const host0 = `${lab.dir}/host0`;
    await copyTree(EXAMPLE, host0);
    await Deno.writeTextFile(
      `${host0}/mesh.yaml`,
      `state_dir: ${lab.dir}/state\ninterfaces:\n  eth0:\n    mode: server\n`,
    );
    const link = await lab.exec("cli", ["ip", "-j", "link", "show", "eth0"]);
    const mac = (JSON.parse(link.stdout) as { address: string }[])[0]!.address;
    let d: Daemon | undefined;
    let follower: Deno.ChildProcess | undefined;
    try {
      d = startDaemon(lab, "srv", host0);
      await d.ready;
      // Started before the client: what it prints comes from polling, not the tail.
      follower = new Deno.Command(meshCommand(host0)[0]!, {
        args: [...meshCommand(host0, "--json", "events", "--follow", "-n", mac).slice(1)],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const lines = follower.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
        new TextLineStream(),
      );
      const seen: Record<string, unknown>[] = [];
      const reading = (async () => {
        for await (const line of lines) {
          const ev = JSON.parse(line) as Record<string, unknown>;
          seen.push(ev);
          if (ev.stage === "dhcp" && typeof ev.ip === "string") return ev;
        }
        return null;
      })();
      await new Promise((r) => setTimeout(r, 1000)); // the follower is polling
      const t0 = Date.now();
      const dhcp = await dhcpOnce(lab, "cli");
      assert.equal(dhcp.code, 0, dhcp.stderr);
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), 15_000));
      const bound = await Promise.race([reading, timeout]);
      assert.ok(bound, `no dhcp step seen; got ${JSON.stringify(seen)}`);
      assert.equal(bound.type, "node");
      assert.equal(bound.mac, mac);
      assert.equal(bound.source, "dhcp");
      assert.ok(Date.now() - t0 < 15_000);
      assert.ok(seen.every((e) => e.type === "node" && e.mac === mac), JSON.stringify(seen));
    } finally {
      try {
        follower?.kill("SIGTERM");
      } catch { /* gone */ }
      await follower?.status;
      if (d) await stopDaemon(d);
    }
    // Without --follow, and without the daemon: the same events from the store.
    const out = await new Deno.Command(meshCommand(host0)[0]!, {
      args: [...meshCommand(host0, "events", "--limit", "100").slice(1)],
      stdout: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0);
    assert.match(text, new RegExp(`node ${mac} dhcp dhcp `));
    assert.match(text, / net \S+ scan/);
  },
});
