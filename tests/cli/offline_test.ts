/**
 * The central node has no internet: after the README's set-up, the CLI run
 * from this checkout must start without reaching for a registry and print
 * nothing the user did not ask for. Each command runs in a fresh network
 * namespace that has only `lo` (`unshare --net`), with an empty DENO_DIR of
 * its own: what the checkout's set-up installed (node_modules/) must be all
 * a start needs. Under `"nodeModulesDir": "auto"` this fails: every start
 * looks up its npm packages in DENO_DIR's registry cache and prints
 * "Download https://registry.npmjs.org/...".
 *
 * The command is the user's own, `deno run -A main.ts ...`, deliberately
 * without --cached-only (which would hide such a lookup).
 */
import assert from "node:assert/strict";
import { hasCommand, isRoot } from "../lib/netns.ts";
import { NodeStore, openStore, Stage } from "../../src/store/mod.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const EXAMPLE = `${ROOT}host0-example`;

const skip = !isRoot()
  ? "needs root (unshare --net)"
  : !hasCommand("unshare")
  ? "missing command: unshare"
  : null;

/** Runs `sh -c script` in a new network namespace with only lo, up. */
async function offline(script: string) {
  const denoDir = await Deno.makeTempDir({ prefix: "mesh-empty-deno-dir-" });
  try {
    const out = await new Deno.Command("unshare", {
      args: ["--net", "sh", "-c", `ip link set lo up && ${script}`],
      cwd: ROOT,
      env: { NO_COLOR: "1", DENO: Deno.execPath(), DENO_DIR: denoDir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
}

Deno.test({
  name: "offline: --version, config check and node list exit 0 with an empty stderr, only lo",
  ignore: skip !== null,
  async fn() {
    const links = await offline("ip -o link show | wc -l");
    assert.equal(links.stdout.trim(), "1", "the namespace has only lo");
    const state = await Deno.makeTempDir({ prefix: "mesh-offline-" });
    try {
      for (
        const args of [
          "--version",
          `--host0 ${EXAMPLE} config check`,
          `--state ${state} node list`,
          `--state ${state} --json node list`,
        ]
      ) {
        const r = await offline(`"$DENO" run -A main.ts ${args}`);
        assert.equal(r.code, 0, `mesh ${args}: ${r.stderr}`);
        assert.equal(r.stderr, "", `mesh ${args} printed on stderr`);
        assert.notEqual(r.stdout, "", `mesh ${args} printed nothing`);
      }
    } finally {
      await Deno.remove(state, { recursive: true });
    }
  },
});

Deno.test({
  name: "a closed stdout ends the CLI quietly: mesh node list | head -3",
  ignore: skip !== null,
  async fn() {
    const state = await Deno.makeTempDir({ prefix: "mesh-pipe-" });
    try {
      // Enough rows that the table outgrows the pipe's buffer: the write
      // after head exits must meet EPIPE.
      const store = openStore(`${state}/mesh.db`);
      const reg = new NodeStore(store.db);
      for (let i = 0; i < 3000; i++) {
        const mac = `52:54:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
          (i & 255).toString(16).padStart(2, "0")
        }`;
        reg.record({ mac, stage: Stage.Discovered, source: "dhcp", at: Date.UTC(2026, 0, 1) });
      }
      reg.close();
      store.close();
      const r = await offline(
        `exec 3>&1; { "$DENO" run -A main.ts --state ${state} node list; ` +
          `echo "mesh exit $?" >&3; } | head -3`,
      );
      assert.equal(r.stderr, "", "nothing on stderr");
      const lines = r.stdout.trim().split("\n");
      assert.match(lines[0]!, /^ID\s+MAC/);
      assert.ok(lines.includes("mesh exit 0"), r.stdout);
    } finally {
      await Deno.remove(state, { recursive: true });
    }
  },
});
