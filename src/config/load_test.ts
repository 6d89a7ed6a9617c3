/**
 * loadHost0 on copies of host0-example: "SRC under /host0" holds for the file
 * a SRC really names (symlinks followed), not just for its string.
 */
import assert from "node:assert/strict";
import { ConfigError, formatIssue } from "../errors.ts";
import { copyTree, HOST0_EXAMPLE } from "../../tests/config_corpus/tree.ts";
import { loadHost0 } from "./mod.ts";

const S1 = "machines/storage-1";

/** A copy of host0-example at `<tmp>/host0` and a secret file at `<tmp>/secret` (outside it). */
async function example() {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "mesh-load-" }));
  const host0 = `${tmp}/host0`;
  await copyTree(HOST0_EXAMPLE, host0);
  await Deno.remove(`${host0}/state`, { recursive: true }).catch(() => {});
  await Deno.writeTextFile(`${tmp}/secret`, "root:SECRET-HASH:19000::::::\n");
  return {
    tmp,
    host0,
    /** Appends a manifest line to storage-1; returns its line number. */
    async append(line: string): Promise<number> {
      const file = `${host0}/${S1}/manifest`;
      const text = await Deno.readTextFile(file);
      const body = text.endsWith("\n") ? text : `${text}\n`;
      await Deno.writeTextFile(file, `${body}${line}\n`);
      return body.split("\n").length;
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

async function rejected(dir: string): Promise<ConfigError> {
  try {
    await loadHost0(dir);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("loadHost0 accepted the tree");
}

Deno.test("loadHost0: a SRC symlink leaving /host0 is refused at its manifest line", async () => {
  const targets: [string, (tmp: string) => string][] = [
    ["absolute, to /etc/shadow", () => "/etc/shadow"],
    ["absolute, to a file outside", (tmp) => `${tmp}/secret`],
    ["relative, climbing out", () => "../../../secret"],
    ["chained through an inside link", () => "chain-out"],
  ];
  for (const [label, target] of targets) {
    await using t = await example();
    await Deno.symlink(`${t.tmp}/secret`, `${t.host0}/${S1}/chain-out`);
    await Deno.symlink(target(t.tmp), `${t.host0}/${S1}/shadow`);
    const n = await t.append(`O MODE=root:root:0600 SRC=/host0/${S1}/shadow TGT=/etc/shadow`);
    const e = await rejected(t.host0);
    const lines = e.issues.map(formatIssue);
    assert.equal(e.issues.length, 1, `${label}: ${lines.join("\n")}`);
    assert.equal(e.file, `${t.host0}/${S1}/manifest`, label);
    assert.equal(e.line, n, label);
    const want = label.includes("/etc/shadow")
      ? /SRC \/host0\/machines\/storage-1\/shadow /
      : /outside the \/host0 directory/;
    assert.match(lines[0]!, want, label);
    assert.ok(lines[0]!.startsWith(`${t.host0}/${S1}/manifest:${n}: SRC `), lines[0]);
    assert.ok(!lines[0]!.includes("SECRET"), label);
  }
});

Deno.test("loadHost0: a directory symlink on the way out of /host0 is refused", async () => {
  await using t = await example();
  await Deno.mkdir(`${t.tmp}/elsewhere`);
  await Deno.writeTextFile(`${t.tmp}/elsewhere/passwd`, "SECRET\n");
  await Deno.symlink(`${t.tmp}/elsewhere`, `${t.host0}/${S1}/etc`);
  const n = await t.append(`O MODE=root:root:0644 SRC=/host0/${S1}/etc/passwd TGT=/etc/passwd`);
  const e = await rejected(t.host0);
  assert.equal(e.issues.length, 1);
  assert.equal(e.line, n);
  assert.match(e.message, /resolves to .*\/elsewhere\/passwd, outside the \/host0 directory/);
});

Deno.test("loadHost0: symlinks that stay inside /host0 still work, also via a linked /host0", async () => {
  await using t = await example();
  await Deno.symlink("../../groups/baseline/motd", `${t.host0}/${S1}/motd-link`);
  await Deno.symlink(`${t.host0}/groups`, `${t.host0}/${S1}/groups-link`);
  const a = await t.append(`O MODE=root:root:0644 SRC=/host0/${S1}/motd-link TGT=/etc/motd2`);
  const b = await t.append(
    `O MODE=root:root:0644 SRC=/host0/${S1}/groups-link/baseline/motd TGT=/etc/motd3`,
  );
  await Deno.symlink(t.host0, `${t.tmp}/host0-link`);
  for (const dir of [t.host0, `${t.tmp}/host0-link`]) {
    const h = await loadHost0(dir);
    const m = h.machines.find((x) => x.folder === "storage-1")!;
    const lines = m.manifest.filter((l) => l.line === a || l.line === b);
    assert.equal(lines.length, 2);
  }
});
