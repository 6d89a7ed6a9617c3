/**
 * The init integration in contrib/: the OpenRC service of the Alpine flash
 * image and the systemd unit of a Debian-based central node. Each is parsed
 * for what the README promises (supervised, respawned, after the network,
 * `mesh serve`, SIGHUP on reload, the three capabilities), the OpenRC script
 * is checked by `sh -n`, and the unit by `systemd-analyze verify` where it
 * exists (with any warning counted as a failure).
 */
import assert from "node:assert/strict";
import { hasCommand } from "../lib/netns.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const OPENRC = `${ROOT}contrib/openrc/mesh`;
const UNIT = `${ROOT}contrib/systemd/mesh.service`;
const CAPS = ["net_raw", "net_bind_service", "net_admin"];

/** `key="value"` assignments and the body of each function of a shell script. */
function parseShell(text: string) {
  const vars = new Map<string, string>();
  for (const m of text.matchAll(/^([a-z_]+)=("([^"]*)"|(\S*))$/gm)) {
    vars.set(m[1]!, m[3] ?? m[4] ?? "");
  }
  const fns = new Map<string, string>();
  for (const m of text.matchAll(/^([a-z_]+)\(\) \{\n([\s\S]*?)\n\}$/gm)) fns.set(m[1]!, m[2]!);
  return { vars, fns };
}

/** An INI-style unit: section → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let cur: Map<string, string[]> | undefined;
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const sec = /^\[(\w+)\]$/.exec(line);
    if (sec) {
      cur = new Map();
      sections.set(sec[1]!, cur);
      continue;
    }
    const kv = /^(\w+)=(.*)$/.exec(line);
    assert.ok(kv && cur, `mesh.service:${i + 1}: not "Key=value" inside a section: ${line}`);
    cur.set(kv[1]!, [...(cur.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

Deno.test("contrib/openrc/mesh: openrc-run, supervise-daemon with respawn, need net, mesh serve", async () => {
  const text = await Deno.readTextFile(OPENRC);
  assert.ok(text.startsWith("#!/sbin/openrc-run\n"));
  assert.ok(((await Deno.stat(OPENRC)).mode! & 0o111) !== 0, "executable");
  const { vars, fns } = parseShell(text);
  assert.equal(vars.get("supervisor"), "supervise-daemon");
  assert.ok(Number(vars.get("respawn_delay")) > 0);
  assert.equal(vars.get("respawn_max"), "0", "respawns without a limit");
  assert.match(vars.get("command_args")!, /\bserve\b/);
  for (const c of CAPS) assert.match(vars.get("capabilities")!, new RegExp(`\\^cap_${c}\\b`));
  assert.match(fns.get("depend") ?? "", /^\s*need net\b/m);
  assert.match(fns.get("reload") ?? "", /--signal HUP/);
  assert.match(fns.get("start_pre") ?? "", /\/run\/mesh/);
  const sh = await new Deno.Command("sh", { args: ["-n", OPENRC], stderr: "piped" }).output();
  assert.equal(sh.code, 0, new TextDecoder().decode(sh.stderr));
});

Deno.test("contrib/systemd/mesh.service: mesh serve, restarts, after the network, verified", async () => {
  const text = await Deno.readTextFile(UNIT);
  const unit = parseUnit(text);
  const get = (s: string, k: string) => unit.get(s)?.get(k)?.join(" ") ?? "";
  assert.match(get("Unit", "After"), /network-online\.target/);
  assert.match(get("Unit", "Wants"), /network-online\.target/);
  assert.match(get("Service", "ExecStart"), /^\/usr\/bin\/mesh .*\bserve$/);
  assert.equal(get("Service", "ExecReload"), "/bin/kill -HUP $MAINPID");
  assert.equal(get("Service", "Restart"), "on-failure");
  assert.equal(get("Service", "RuntimeDirectory"), "mesh");
  assert.equal(get("Service", "RuntimeDirectoryMode"), "0700");
  for (const c of CAPS) {
    assert.match(get("Service", "AmbientCapabilities"), new RegExp(`CAP_${c.toUpperCase()}\\b`));
  }
  assert.equal(get("Install", "WantedBy"), "multi-user.target");

  if (!hasCommand("systemd-analyze")) {
    console.warn("systemd-analyze not found: the unit is parsed only");
    return;
  }
  // verify wants ExecStart to exist: point it at a stand-in for the binary
  const dir = await Deno.makeTempDir({ prefix: "mesh-unit-" });
  try {
    await Deno.writeTextFile(`${dir}/mesh`, "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(`${dir}/mesh.service`, text.replace("/usr/bin/mesh", `${dir}/mesh`));
    const r = await new Deno.Command("systemd-analyze", {
      args: ["verify", `${dir}/mesh.service`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const said = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, said);
    assert.equal(said.trim(), "", "no warnings");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
