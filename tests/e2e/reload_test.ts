/**
 * `mesh serve` and a bad /host0: refused at start with file:line and exit 2;
 * on SIGHUP the error is logged and the overlays served before stay served;
 * a good edit followed by SIGHUP is picked up without a restart.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyTree } from "../config_corpus/tree.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import {
  type Daemon,
  EXAMPLE,
  meshCommand,
  startDaemon,
  stopDaemon,
  waitForLog,
} from "../lib/mesh_daemon.ts";

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

Deno.test({
  name: "mesh serve: bad /host0 exits 2 at start; SIGHUP with a bad /host0 keeps the old overlays",
  ignore: labSkipReason(["curl"]) !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-reload-" });
    await using lab = await createLab("rld", [
      { name: "srv", address: "10.94.0.1/24" },
      { name: "cli", address: "10.94.0.2/24" },
    ]);
    let daemon: Daemon | undefined;
    try {
      const host0 = `${tmp}/host0`;
      await copyTree(EXAMPLE, host0);
      const yaml = `state_dir: ${tmp}/state
interfaces:
  eth0:
    mode: server
http:
  overlay_access: any
`;
      const manifest = `${host0}/machines/default/manifest`;
      const good = await Deno.readTextFile(manifest);

      // 1. A broken /host0 at start: exit 2, file:line on stderr, nothing served.
      await Deno.writeTextFile(`${host0}/mesh.yaml`, yaml + "dhcp:\n  lease_time: forever\n");
      const bad = await lab.exec("srv", meshCommand(host0, "serve"));
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /mesh\.yaml:\d+: .*lease_time/);
      await Deno.writeTextFile(`${host0}/mesh.yaml`, yaml);

      // 2. Start for real and fetch the default overlay from another host.
      daemon = startDaemon(lab, "srv", host0);
      await daemon.ready;
      // Bytes, not text: lab.exec decodes stdout, so run curl directly.
      const fetchOverlay = async () => {
        const out = await new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            lab.ns("cli"),
            "curl",
            "-sf",
            "http://10.94.0.1/apkovl/default.tar.gz",
          ],
          stdout: "piped",
        }).output();
        assert.equal(out.code, 0, "overlay fetched");
        assert.ok(out.stdout.length > 100);
        return sha(out.stdout);
      };
      const before = await fetchOverlay();

      // 3. Break a manifest and SIGHUP: the error names file:line, the old overlay is still served.
      await Deno.writeTextFile(
        manifest,
        good + "\nO MODE=root:root:0644 SRC=/host0/machines/default/missing TGT=/etc/x\n",
      );
      let since = daemon.logs.length;
      Deno.kill(daemon.child.pid, "SIGHUP");
      const refused = await waitForLog(
        daemon,
        "reload refused; still serving the previous overlays",
        { since },
      );
      const problems = (refused.properties as { problems: string[] }).problems;
      const line = good.split("\n").length + 1;
      assert.ok(
        problems.some((p) => p.startsWith(`${manifest}:${line}:`)),
        JSON.stringify(problems),
      );
      assert.equal(await fetchOverlay(), before);

      // 4. A good edit and SIGHUP: the new overlay is served, no restart.
      await Deno.writeTextFile(`${host0}/machines/default/motd-extra`, "reloaded\n");
      await Deno.writeTextFile(
        manifest,
        good +
          "\nO MODE=root:root:0644 SRC=/host0/machines/default/motd-extra TGT=/etc/motd-extra\n",
      );
      since = daemon.logs.length;
      Deno.kill(daemon.child.pid, "SIGHUP");
      await waitForLog(daemon, "reloaded /host0", { since });
      assert.notEqual(await fetchOverlay(), before);
    } finally {
      if (daemon) assert.equal((await stopDaemon(daemon)).code, 0, "a clean stop on SIGTERM");
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
