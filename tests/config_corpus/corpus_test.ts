/**
 * Broken /host0 trees: each case copies host0-example, breaks one thing, and
 * expects loadHost0/compileOverlays to reject with a ConfigError naming the
 * right file:line, while a previously published overlay set stays
 * byte-identical.
 */
import assert from "node:assert/strict";
import { ConfigError, formatIssue } from "../../src/errors.ts";
import { loadHost0 } from "../../src/config/mod.ts";
import { compileOverlays } from "../../src/apkovl/mod.ts";
import { copyTree, hashDir, HOST0_EXAMPLE } from "./tree.ts";

/** A tree being broken; helpers return the 1-based line they touched. */
class Tree {
  constructor(readonly dir: string) {}
  async read(rel: string): Promise<string> {
    return await Deno.readTextFile(`${this.dir}/${rel}`);
  }
  async write(rel: string, text: string): Promise<void> {
    await Deno.writeTextFile(`${this.dir}/${rel}`, text);
  }
  async remove(rel: string): Promise<void> {
    await Deno.remove(`${this.dir}/${rel}`);
  }
  /** Replaces the first line containing `needle` with `line`; returns its number. */
  async replaceLine(rel: string, needle: string, line: string): Promise<number> {
    const lines = (await this.read(rel)).split("\n");
    const i = lines.findIndex((l) => l.includes(needle));
    assert.ok(i >= 0, `${needle} not in ${rel}`);
    lines[i] = line;
    await this.write(rel, lines.join("\n"));
    return i + 1;
  }
  /** Appends a line; returns its number. */
  async appendLine(rel: string, line: string): Promise<number> {
    const text = await this.read(rel);
    const body = text.endsWith("\n") ? text : `${text}\n`;
    await this.write(rel, `${body}${line}\n`);
    return body.split("\n").length;
  }
}

const S1 = "machines/storage-1";
const MF = `${S1}/manifest`;
const GOOD_O = "O MODE=root:root:0644 SRC=/host0/machines/storage-1/hostname TGT=/etc/hostname";

/** [case, break it (returns the expected "rel:line: message-part" substring)] */
const CASES: [string, (t: Tree) => Promise<string>][] = [
  ["missing-uuid", async (t) => (await t.remove(`${S1}/UUID`), `${S1}/UUID: missing`)],
  ["bad-uuid-text", async (t) => (await t.write(`${S1}/UUID`, "10EFF96\n"), `${S1}/UUID:1: `)],
  ["duplicate-id", async (t) => {
    await t.write("machines/compute-1/UUID", "10eff964\n");
    return `${S1}/UUID:1: duplicate id 10eff964, also used by`;
  }],
  [
    "two-defaults",
    async (t) => (await t.write(`${S1}/UUID`, "default\n"), `${S1}/UUID:1: a second default`),
  ],
  [
    "no-default",
    async (
      t,
    ) => (await t.write("machines/default/UUID", "0d0d0d0d"), "machines: no default machine"),
  ],
  ["bad-mode-perms", async (t) => {
    const n = await t.replaceLine(MF, "TGT=/etc/hostname", GOOD_O.replace("0644", "0999"));
    return `${MF}:${n}: perms must be 3 or 4 octal digits`;
  }],
  ["unknown-user", async (t) => {
    const n = await t.replaceLine(
      MF,
      "TGT=/etc/hostname",
      GOOD_O.replace("root:root", "rooot:root"),
    );
    return `${MF}:${n}: unknown user "rooot" in MODE (did you mean "root"?)`;
  }],
  ["relative-src", async (t) => {
    const n = await t.replaceLine(
      MF,
      "TGT=/etc/hostname",
      GOOD_O.replace("SRC=/host0/", "SRC=host0/"),
    );
    return `${MF}:${n}: SRC must be an absolute path`;
  }],
  ["relative-tgt", async (t) => {
    const n = await t.replaceLine(MF, "TGT=/etc/hostname", GOOD_O.replace("TGT=/etc", "TGT=etc"));
    return `${MF}:${n}: TGT must be an absolute path`;
  }],
  ["missing-src-file", async (t) => {
    await t.remove(`${S1}/mdadm.conf`);
    const n = (await t.read(MF)).split("\n").findIndex((l) => l.includes("mdadm.conf")) + 1;
    return `${MF}:${n}: SRC /host0/machines/storage-1/mdadm.conf does not exist`;
  }],
  [
    "unknown-action",
    async (t) => (`${MF}:${await t.appendLine(MF, "C SRC=/a TGT=/b")}: unknown action "C"`),
  ],
  ["unknown-field", async (t) => {
    const n = await t.appendLine(MF, "D MODE=root:root:0755 TGT=/srv OWNER=root");
    return `${MF}:${n}: unknown field "OWNER"`;
  }],
  [
    "missing-tgt",
    async (t) => (`${MF}:${await t.appendLine(MF, "D MODE=root:root:0755")}: D requires TGT=`),
  ],
  ["duplicate-field", async (t) => {
    const n = await t.appendLine(MF, "D MODE=root:root:0755 TGT=/srv TGT=/opt");
    return `${MF}:${n}: duplicate field TGT`;
  }],
  [
    "missing-group",
    async (t) => (`${S1}/groups:${await t.appendLine(`${S1}/groups`, "nosuch")}: no such group`),
  ],
  ["group-listed-twice", async (t) => {
    const n = await t.appendLine(`${S1}/groups`, "baseline");
    return `${S1}/groups:${n}: group "baseline" is already listed at line 2`;
  }],
  ["group-without-manifest", async (t) => {
    await t.remove("groups/timezone-utc/manifest");
    return "groups/timezone-utc/manifest: missing";
  }],
  ["bad-yaml-syntax", async (t) => {
    const n = await t.replaceLine("mesh.yaml", "lease_time: 3600", "\tlease_time: 3600");
    return `mesh.yaml:${n}: Tabs are not allowed as indentation`;
  }],
  ["unknown-yaml-key", async (t) => {
    const n = await t.replaceLine("mesh.yaml", "lease_time: 3600", "  lease_tme: 3600");
    return `mesh.yaml:${n}: unknown key "dhcp.lease_tme" (did you mean "lease_time"?)`;
  }],
  ["bad-subnet-pool-cidr", async (t) => {
    const n = await t.replaceLine("mesh.yaml", "- 10.11.0.0/16", "  - 10.11.0.0/33");
    return `mesh.yaml:${n}: subnet_pool[0]: Cannot parse CIDR`;
  }],
  ["subnet-size-out-of-range", async (t) => {
    const n = await t.replaceLine(
      "mesh.yaml",
      "default_subnet_size: 24",
      "default_subnet_size: 31",
    );
    return `mesh.yaml:${n}: default_subnet_size: must be an integer 8..30`;
  }],
  ["router-outside-subnet", async (t) => {
    const n = await t.replaceLine("mesh.yaml", "router: 10.11.0.1", "    router: 10.9.0.1");
    return `mesh.yaml:${n}: interfaces.eth0.router 10.9.0.1 is outside 10.11.0.0/24`;
  }],
  ["reservation-outside-every-subnet", async (t) => {
    const n = await t.replaceLine("mesh.yaml", "ip: 10.11.0.11", "      ip: 192.168.7.11");
    return `mesh.yaml:${n}: reservation node 5e2d9a41 ip 192.168.7.11 is outside every subnet`;
  }],
  ["bad-package-name", async (t) => {
    const n = await t.replaceLine(`${S1}/packages`, "e2fsprogs", "E2fsprogs");
    return `${S1}/packages:${n}: "E2fsprogs" is not a package name`;
  }],
  ["network-missing-name", async (t) => {
    await t.replaceLine("network/manage.conf", "name=manage", "# no name");
    return "network/manage.conf: missing required key name";
  }],
  ["bad-host0-conf-subnet-pool", async (t) => {
    const n = await t.replaceLine(
      "host0.conf",
      "subnet_pool=",
      'subnet_pool="10.11.0.0/16" "192.168.0/23"',
    );
    return `host0.conf:${n}: subnet_pool: Cannot parse`;
  }],
  ["bad-network-vni", async (t) => {
    const n = await t.replaceLine("network/manage.conf", "vni=", "vni=0");
    return `network/manage.conf:${n}: vni must be 1..16777215`;
  }],
  ["overwrite-onto-directory", async (t) => {
    const n = await t.appendLine(
      MF,
      "O MODE=root:root:0644 SRC=/host0/machines/storage-1/hostname TGT=/mnt/data",
    );
    return `${MF}:${n}: /mnt/data is a directory`;
  }],
];

Deno.test("broken /host0 trees are rejected with file:line and leave published overlays alone", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "mesh-corpus-" });
  try {
    const good = `${tmp}/good`;
    await copyTree(HOST0_EXAMPLE, good);
    await Deno.remove(`${good}/state`, { recursive: true }).catch(() => {});
    const outDir = `${tmp}/state/apkovl`;
    await compileOverlays(await loadHost0(good), { outDir });
    const published = await hashDir(outDir);
    assert.ok(Object.keys(published).length >= 4);

    for (const [name, breakIt] of CASES) {
      await t.step(name, async () => {
        const dir = `${tmp}/${name}`;
        await copyTree(good, dir);
        const expected = `${dir}/${await breakIt(new Tree(dir))}`;
        let error: unknown;
        try {
          await compileOverlays(await loadHost0(dir), { outDir });
        } catch (e) {
          error = e;
        }
        assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
        const lines = error.issues.map(formatIssue);
        assert.ok(
          lines.some((l) => l.includes(expected)),
          `want ${expected}\ngot:\n${lines.join("\n")}`,
        );
        assert.deepEqual(await hashDir(outDir), published);
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a tree with many problems reports all of them", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "mesh-corpus-" });
  try {
    await copyTree(HOST0_EXAMPLE, tmp);
    const tree = new Tree(tmp);
    await tree.write(`${S1}/UUID`, "nope\n");
    await tree.appendLine(MF, "Z");
    await tree.replaceLine("mesh.yaml", "default_subnet_size: 24", "default_subnet_size: 99");
    const error = await loadHost0(tmp).then(() => null, (e) => e);
    assert.ok(error instanceof ConfigError);
    const files = new Set(error.issues.map((i) => i.file.slice(tmp.length + 1)));
    assert.deepEqual([...files].sort(), [
      "machines/storage-1/UUID",
      "machines/storage-1/manifest",
      "mesh.yaml",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
