/**
 * `mesh serve` as its init script runs it (init/mesh.initd): a dedicated
 * user, not root, with only the capabilities it needs: CAP_NET_RAW (raw
 * DHCP/ARP frames, SO_BINDTODEVICE), CAP_NET_BIND_SERVICE (ports 67, 69, 80)
 * and CAP_NET_ADMIN (addresses on the interfaces it serves). Here the user is
 * `nobody` and setpriv(1) plays the init system's part.
 */
import assert from "node:assert/strict";
import { copyTree } from "../config_corpus/tree.ts";
import { EXAMPLE, MAIN, readUntilServing } from "../lib/mesh_daemon.ts";
import { createLab, hasCommand, labSkipReason } from "../lib/netns.ts";
import { assertServes, dhcpOnce } from "../lib/serve_checks.ts";

const SRV = "10.95.0.1";
const CAPS = "+net_raw,+net_bind_service,+net_admin";
/** CAP_NET_BIND_SERVICE (10), CAP_NET_ADMIN (12), CAP_NET_RAW (13). */
const CAP_MASK = (1n << 10n) | (1n << 12n) | (1n << 13n);

const skip = labSkipReason(["udhcpc", "curl"]) ??
  (hasCommand("setpriv") ? null : "missing command: setpriv");

Deno.test({
  name: "unprivileged: mesh serve as nobody with three capabilities serves DHCP, TFTP and HTTP",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-unpriv-" });
    await Deno.chmod(tmp, 0o755);
    await using lab = await createLab("unpriv", [
      { name: "srv", address: `${SRV}/24` },
      // a static address for the HTTP and TFTP checks (udhcpc below configures nothing)
      { name: "cli", address: "10.95.0.2/24" },
    ]);
    try {
      // The user must reach the runtime and the tree: a copy of deno outside /root.
      const deno = `${tmp}/deno`;
      await Deno.copyFile(Deno.execPath(), deno);
      await Deno.chmod(deno, 0o755);
      const host0 = `${tmp}/host0`;
      const state = `${tmp}/state`;
      const denoDir = `${tmp}/deno-dir`;
      await copyTree(EXAMPLE, host0);
      await Deno.writeTextFile(
        `${host0}/mesh.yaml`,
        `state_dir: ${state}
interfaces:
  eth0:
    mode: server
    pool: { start: 10.95.0.100, end: 10.95.0.150 }
`,
      );
      for (const d of [state, denoDir]) {
        await Deno.mkdir(d);
        await Deno.chown(d, 65534, 65534);
      }
      await new Deno.Command("chmod", { args: ["-R", "a+rX", host0] }).output();
      const child = lab.spawn("srv", [
        "setpriv",
        ...["--reuid=65534", "--regid=65534", "--clear-groups"],
        `--inh-caps=${CAPS}`,
        `--ambient-caps=${CAPS}`,
        ...["env", `DENO_DIR=${denoDir}`, deno, "run", "-A", "--cached-only", MAIN],
        ...["--host0", host0, "--log-format", "json", "serve"],
      ], { stdout: "piped", stderr: "piped" });
      const stderr = new Response(child.stderr).text();
      if (!(await readUntilServing(child.stdout))) {
        assert.fail(`daemon did not start: ${await stderr}`);
      }
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`).catch(() => "");
      // setpriv exec()s env, which exec()s deno: the pid is the daemon's
      const eff = /CapEff:\s+([0-9a-f]+)/.exec(status)?.[1];
      const uid = /Uid:\s+(\d+)/.exec(status)?.[1];
      assert.equal(uid, "65534");
      assert.equal(BigInt(`0x${eff}`), CAP_MASK, `CapEff ${eff}`);

      const dhcp = await dhcpOnce(lab, "cli", { tries: 5 });
      assert.match(dhcp.stderr + dhcp.stdout, /lease of 10\.95\.0\.\d+ obtained/, dhcp.stderr);
      await assertServes(lab, "cli", SRV);
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
