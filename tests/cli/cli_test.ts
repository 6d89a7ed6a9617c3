/**
 * The CLI as a user runs it: a real process, its exit code, stdout and stderr.
 */
import assert from "node:assert/strict";
import { NodeStore, openStore, Stage } from "../../src/store/mod.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const EXAMPLE = new URL("../../host0-example", import.meta.url).pathname;

async function mesh(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("mesh --version prints the version from deno.json and exits 0", async () => {
  const denoJson = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const r = await mesh(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), denoJson.version);
});

Deno.test("mesh usage errors exit 2 with a one-line hint, no stack", async () => {
  for (const args of [["frobnicate"], ["node", "info"], ["system"], ["--no-such-flag"]]) {
    const r = await mesh(args);
    assert.equal(r.code, 2, `mesh ${args.join(" ")}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
  }
  const help = await mesh(["node", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /list/);
  assert.match(help.stdout, /info/);
});

Deno.test("mesh node list/info read the state database, table and --json", async () => {
  const state = await Deno.makeTempDir({ prefix: "mesh-cli-" });
  try {
    let r = await mesh(["--state", state, "node", "list"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "no nodes seen yet\n");
    r = await mesh(["--state", state, "--json", "node", "list"]);
    assert.deepEqual(JSON.parse(r.stdout), []);

    const store = openStore(`${state}/mesh.db`);
    const reg = new NodeStore(store.db);
    reg.record({
      mac: "52:54:00:aa:bb:01",
      stage: Stage.Discovered,
      source: "dhcp",
      at: Date.UTC(2026, 0, 1, 10),
    });
    reg.record({
      nodeId: "0a1b2c3d",
      mac: "52:54:00:aa:bb:01",
      ip: "10.11.0.50",
      machine: "storage-1",
      stage: Stage.Script,
      source: "http",
      at: Date.UTC(2026, 0, 1, 10, 0, 3),
    });
    reg.close();
    store.close();

    r = await mesh(["--state", state, "node", "list"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0]!, /^ID\s+MAC\s+IP\s+MACHINE\s+STAGE\s+LAST SEEN$/);
    assert.match(
      lines[1]!,
      /^0a1b2c3d\s+52:54:00:aa:bb:01\s+10\.11\.0\.50\s+storage-1\s+script\s+2026-01-01 10:00:03$/,
    );

    r = await mesh(["--state", state, "--json", "node", "info", "-n", "0a1b2c3d"]);
    const info = JSON.parse(r.stdout);
    assert.equal(info.id, "0a1b2c3d");
    assert.equal(info.stages.discovered, Date.UTC(2026, 0, 1, 10));
    assert.equal(info.stages.script, Date.UTC(2026, 0, 1, 10, 0, 3));
    assert.equal(info.events.length, 2);

    r = await mesh(["--state", state, "node", "info", "-n", "52:54:00:AA:BB:01"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /script\s+2026-01-01 10:00:03\s+\+3\.000s/);

    r = await mesh(["--state", state, "node", "info", "-n", "ffffffff"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^mesh: no node with id or MAC "ffffffff"\n$/);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("mesh completions produce scripts the shells accept", async () => {
  const bash = await mesh(["completions", "bash"]);
  assert.equal(bash.code, 0);
  assert.match(bash.stdout, /complete -F _mesh_complete mesh/);
  assert.match(bash.stdout, /"system"\) words="configure/);
  const check = await new Deno.Command("bash", { args: ["-n"], stdin: "piped", stderr: "piped" })
    .spawn();
  const w = check.stdin.getWriter();
  await w.write(new TextEncoder().encode(bash.stdout));
  await w.close();
  const st = await check.output();
  assert.equal(st.code, 0, new TextDecoder().decode(st.stderr));
  // Simulate completing "mesh node <TAB>" in bash.
  const sim = await new Deno.Command("bash", {
    args: [
      "-c",
      `${bash.stdout}\nCOMP_WORDS=(mesh node ""); COMP_CWORD=2; _mesh_complete; echo "\${COMPREPLY[*]}"`,
    ],
    stdout: "piped",
  }).output();
  assert.deepEqual(new TextDecoder().decode(sim.stdout).trim().split(" ").slice(0, 2), [
    "list",
    "info",
  ]);

  const fish = await mesh(["completions", "fish"]);
  assert.match(fish.stdout, /complete -c mesh -n '__fish_seen_subcommand_from node' -a list/);
  const zsh = await mesh(["completions", "zsh"]);
  assert.match(zsh.stdout, /bashcompinit/);
  const bad = await mesh(["completions", "tcsh"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown shell "tcsh"/);
});

Deno.test("mesh config check accepts host0-example; MESH_HOST0 selects /host0", async () => {
  const r = await mesh(["config", "check"], { MESH_HOST0: EXAMPLE });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok — 3 machines/);
  const j = await mesh(["--host0", EXAMPLE, "--json", "config", "check"]);
  assert.equal(JSON.parse(j.stdout).ok, true);
});

Deno.test("mesh system configure on a broken /host0 exits 2 naming file:line and keeps the old overlays", async () => {
  const { copyTree, hashDir } = await import("../config_corpus/tree.ts");
  const tmp = await Deno.makeTempDir({ prefix: "mesh-cli-broken-" });
  try {
    const host0 = `${tmp}/host0`;
    const state = `${tmp}/state`;
    await copyTree(EXAMPLE, host0);
    let r = await mesh(["--host0", host0, "--state", state, "--json", "system", "configure"]);
    assert.equal(r.code, 0, r.stderr);
    const published = JSON.parse(r.stdout);
    assert.deepEqual(published.overlays.map((o: { id: string }) => o.id).sort(), [
      "10eff964",
      "5e2d9a41",
      "default",
    ]);
    const before = await hashDir(`${state}/apkovl`);

    // Two problems in two files: both are reported, each with file:line.
    const manifest = `${host0}/machines/storage-1/manifest`;
    const lines = (await Deno.readTextFile(manifest)).split("\n");
    lines.splice(2, 0, "X MODE=root:root:0644 TGT=/etc/x");
    await Deno.writeTextFile(manifest, lines.join("\n"));
    await Deno.writeTextFile(
      `${host0}/mesh.yaml`,
      (await Deno.readTextFile(`${host0}/mesh.yaml`)) + "\nlease_tme: 60\n",
    );
    r = await mesh(["--host0", host0, "--state", state, "system", "configure"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`mesh: ${manifest}:3: .*unknown action`, "i"));
    assert.match(r.stderr, /mesh\.yaml:\d+: .*lease_tme/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/);
    assert.deepEqual(await hashDir(`${state}/apkovl`), before, "published overlays untouched");

    r = await mesh(["--host0", host0, "config", "check"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /manifest:3:/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("mesh dhcp leases lists bound leases (--all adds the rest), table and --json", async () => {
  const { LeaseStore } = await import("../../src/store/mod.ts");
  const state = await Deno.makeTempDir({ prefix: "mesh-cli-leases-" });
  try {
    let r = await mesh(["--state", state, "dhcp", "leases"]);
    assert.equal(r.stdout, "no leases\n");
    const store = openStore(`${state}/mesh.db`);
    const far = Date.UTC(2030, 0, 1);
    const row = {
      mac: "52:54:00:aa:bb:01",
      clientId: null,
      nodeId: "0a1b2c3d",
      hostname: "node-a",
      startsAt: Date.UTC(2026, 0, 1),
      expiresAt: far,
      segment: "eth0",
      updatedAt: Date.UTC(2026, 0, 1),
    };
    new LeaseStore(store.db).writeNow([
      { ...row, ip: 0x0a0b0065, state: "bound" },
      {
        ...row,
        ip: 0x0a0b0066,
        mac: "52:54:00:aa:bb:02",
        nodeId: null,
        hostname: null,
        state: "released",
      },
    ]);
    store.close();
    r = await mesh(["--state", state, "dhcp", "leases"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.match(
      lines[1]!,
      /^eth0\s+10\.11\.0\.101\s+52:54:00:aa:bb:01\s+0a1b2c3d\s+node-a\s+bound\s+2030-01-01 00:00:00$/,
    );
    const all = JSON.parse(
      (await mesh(["--state", state, "--json", "dhcp", "leases", "--all"])).stdout,
    );
    assert.deepEqual(all.map((l: { ip: string; state: string }) => `${l.ip} ${l.state}`), [
      "10.11.0.101 bound",
      "10.11.0.102 released",
    ]);
  } finally {
    await Deno.remove(state, { recursive: true });
  }
});
