/**
 * `mesh serve` on hostile ground, as a real process in a lab: a full state
 * file system, a state directory removed under it, and file modes that do not
 * depend on the umask it was started with.
 */
import assert from "node:assert/strict";
import {
  type Daemon,
  meshCommand,
  readUntilServing,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../lib/mesh_daemon.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";
import { assertServes, dhcpOnce } from "../lib/serve_checks.ts";

const SRV = "10.94.0.1";
const skip = labSkipReason(["udhcpc", "curl", "mount"]);

/** DHCP traffic from a PXE client (its DISCOVERs are node events the registry records). */
function pxeDhcp(lab: Lab) {
  return dhcpOnce(lab, "cli", { vendorClass: "PXEClient:Arch:00000:UNDI:002001" });
}

async function exited(d: Daemon, ms: number): Promise<Deno.CommandStatus | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([
    d.child.status,
    new Promise<null>((res) => timer = setTimeout(() => res(null), ms)),
  ]);
  clearTimeout(timer);
  return r;
}

async function setup(name: string) {
  const tmp = await Deno.makeTempDir({ prefix: `mesh-${name}-` });
  const lab = await createLab(name, [
    { name: "srv", address: `${SRV}/24` },
    { name: "cli", address: "10.94.0.2/24" },
  ]);
  const host0 = `${tmp}/host0`;
  const state = `${tmp}/state`;
  await Deno.mkdir(state);
  await writeLabHost0(host0, { state, srv: SRV, pool: ["10.94.0.100", "10.94.0.150"] });
  return { tmp, lab, host0, state };
}

Deno.test({
  name: "hardening: a full state file system is logged, and DHCP, TFTP and HTTP go on",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { tmp, lab, host0, state } = await setup("hfull");
    let mounted = false;
    let d: Daemon | undefined;
    try {
      const m = await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", state],
      }).output();
      assert.equal(m.code, 0, new TextDecoder().decode(m.stderr));
      mounted = true;
      d = startDaemon(lab, "srv", host0);
      await d.ready;
      // Fill what is left of the file system.
      const chunk = new Uint8Array(64 * 1024);
      const filler = await Deno.open(`${state}/filler`, { write: true, create: true });
      try {
        for (let i = 0; i < 200; i++) await filler.write(chunk);
      } catch { /* ENOSPC: full */ }
      filler.close();
      for (let i = 0; i < 2; i++) await pxeDhcp(lab);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(await exited(d, 0), null, "the daemon is still running");
      await assertServes(lab, "cli", SRV);
      assert.ok(
        d.logs.some((l) => String(l.message).startsWith("node registry write failed")),
        JSON.stringify(d.logs.slice(-5)),
      );
      // Space again: the next client gets a lease.
      await Deno.remove(`${state}/filler`);
      const after = await pxeDhcp(lab);
      assert.match(after.stderr + after.stdout, /lease of 10\.94\.0\.\d+ obtained/);
    } finally {
      if (d) await stopDaemon(d);
      await lab.cleanup();
      if (mounted) await new Deno.Command("umount", { args: ["-l", state] }).output();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "hardening: a removed state directory stops the daemon with a non-zero status",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { tmp, lab, host0, state } = await setup("hgone");
    let d: Daemon | undefined;
    try {
      d = startDaemon(lab, "srv", host0);
      await d.ready;
      await Deno.remove(state, { recursive: true });
      const status = await exited(d, 30_000);
      assert.ok(status !== null, "the daemon noticed within 30 s");
      assert.notEqual(status.code, 0);
      assert.ok(d.logs.some((l) => String(l.message).startsWith("state directory lost")));
    } finally {
      if (d) await stopDaemon(d);
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test({
  name: "hardening: under umask 000 the state is 0700 and the database and overlays 0600",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { tmp, lab, host0, state } = await setup("humask");
    const child = lab.spawn("srv", [
      "sh",
      "-c",
      'umask 000; exec "$@"',
      "sh",
      ...meshCommand(host0, "--log-format", "json", "serve"),
    ], { stdout: "piped", stderr: "null" });
    try {
      // ready once the overlays are published and the daemon serves
      await readUntilServing(child.stdout);
      const mode = (p: string) => (Deno.statSync(p).mode ?? 0) & 0o777;
      assert.equal(mode(state).toString(8), "700");
      assert.equal(mode(`${state}/mesh.db`).toString(8), "600");
      const ovl = [...Deno.readDirSync(`${state}/apkovl`)].filter((e) => e.isFile);
      assert.ok(ovl.length > 0);
      for (const e of ovl) {
        assert.equal(mode(`${state}/apkovl/${e.name}`).toString(8), "600", e.name);
      }
      assert.equal(mode(`${state}/apkovl`) & 0o077, 0, "apkovl dir closed to others");
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.stdout.cancel().catch(() => {});
      await child.status;
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
