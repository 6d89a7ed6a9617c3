/**
 * The control socket of a running `mesh serve` in a lab: its place and
 * permissions (0600 in a 0700 directory), a non-root user refused (the CLI
 * run with setpriv as nobody), `mesh system reload` and `mesh net rescan`
 * answered, bad requests answered with errors while the daemon serves on,
 * the socket gone after a stop; and the node key made on first start and
 * installed by the overlays.
 */
import assert from "node:assert/strict";
import { copyTree } from "../config_corpus/tree.ts";
import {
  type Daemon,
  EXAMPLE,
  MAIN,
  meshIn,
  startDaemon,
  stopDaemon,
  waitForLog,
} from "../lib/mesh_daemon.ts";
import { createLab, hasCommand, labSkipReason } from "../lib/netns.ts";

const skip = labSkipReason();

/** Sends raw lines, returns the reply lines (the connection is closed after `expect` replies). */
async function raw(path: string, text: string, expect: number): Promise<string[]> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(new TextEncoder().encode(text));
    let got = "";
    const buf = new Uint8Array(65536);
    while (got.split("\n").length - 1 < expect) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    return got.split("\n").filter((l) => l !== "");
  } finally {
    conn.close();
  }
}

async function gunzipText(path: string): Promise<string> {
  const stream = (await Deno.open(path)).readable.pipeThrough(new DecompressionStream("gzip"));
  return new TextDecoder("latin1").decode(await new Response(stream).arrayBuffer());
}

Deno.test({
  name: "control socket: permissions, non-root refused, reload and rescan, bad requests",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createLab("ctl", [{ name: "srv", address: "10.95.0.1/24" }]);
    const host0 = `${lab.dir}/host0`;
    const state = `${lab.dir}/state`;
    await copyTree(EXAMPLE, host0);
    await Deno.writeTextFile(
      `${host0}/mesh.yaml`,
      `state_dir: ${state}\ninterfaces:\n  eth0:\n    mode: server\n`,
    );
    let d: Daemon | undefined;
    try {
      d = startDaemon(lab, "srv", host0);
      await d.ready;
      const sock = `${state}/mesh.sock`;
      const st = await Deno.lstat(sock);
      assert.ok(st.isSocket, "a Unix socket");
      assert.equal(st.mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(state)).mode! & 0o777, 0o700);

      // The node key, made on first start, is in every overlay with sshd enabled.
      const pub = (await Deno.readTextFile(`${host0}/keys/mesh_ed25519.pub`)).trim();
      assert.equal((await Deno.stat(`${host0}/keys/mesh_ed25519`)).mode! & 0o777, 0o600);
      const ovl = await gunzipText(`${state}/apkovl/default.tar.gz`);
      assert.ok(ovl.includes("root/.ssh/authorized_keys") && ovl.includes(pub));
      assert.ok(ovl.includes("etc/runlevels/default/sshd") && ovl.includes("/etc/init.d/sshd"));

      const since = d.logs.length;
      const reload = await meshIn(lab, "srv", ["--host0", host0, "system", "reload"]);
      assert.equal(reload.code, 0, reload.stderr);
      await waitForLog(d, "reloaded /host0", { since });
      const rescan = await meshIn(lab, "srv", ["--host0", host0, "--json", "net", "rescan"]);
      assert.equal(rescan.code, 0, rescan.stderr);
      assert.equal((JSON.parse(rescan.stdout) as { ok: boolean }).ok, true);

      // Bad requests: each answered with an error, in order, on one connection.
      const replies = (await raw(
        sock,
        'not json\n[1]\n{"op":"halt"}\n{"op":"reload","x":1}\n{"op":"forget","node":"../x"}\n' +
          '{"op":"forget","node":"abcdef12"}\n{"op":"ping"}\n',
        7,
      )).map((l) => JSON.parse(l) as { ok: boolean; error?: string });
      assert.deepEqual(replies.map((r) => r.ok), [false, false, false, false, false, false, true]);
      assert.match(replies[2]!.error!, /unknown op "halt"/);
      assert.match(replies[5]!.error!, /no node with id or MAC "abcdef12"/);
      const long = await raw(sock, "x".repeat(10_000), 1);
      assert.match(long[0]!, /longer than/);
      assert.deepEqual(JSON.parse((await raw(sock, '{"op":"ping"}\n', 1))[0]!).ok, true);

      // Not root: refused by the socket's permissions, in one line.
      if (hasCommand("setpriv")) {
        const bin = `${lab.dir}/nobody`;
        await Deno.mkdir(bin, { mode: 0o755 });
        await Deno.copyFile(Deno.execPath(), `${bin}/deno`);
        await Deno.chown(bin, 65534, null);
        await Deno.chmod(lab.dir, 0o755);
        const r = await lab.exec("srv", [
          ...["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
          ...["env", `DENO_DIR=${bin}/cache`, `HOME=${bin}`, `${bin}/deno`, "run", "-A"],
          ...["--cached-only", MAIN, "--host0", host0, "system", "reload"],
        ]);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /^mesh: permission denied on the control socket .*root only\n$/);
      }
    } finally {
      if (d) await stopDaemon(d);
    }
    // Removed on stop; and a request that needs the daemon says it is down.
    await assert.rejects(Deno.lstat(`${state}/mesh.sock`), Deno.errors.NotFound);
    const down = await meshIn(lab, "srv", ["--host0", host0, "net", "rescan"]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^mesh: the daemon is not running \(no control socket at .*\)\n$/);
  },
});
