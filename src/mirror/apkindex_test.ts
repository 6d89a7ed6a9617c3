import assert from "node:assert/strict";
import fc from "fast-check";
import { formatDependency, parseApkIndex, parseDependency } from "./apkindex.ts";
import { MAIN_APKINDEX } from "./_apkindex_fixture.ts";

const FILE = "v3.20/main/x86_64/APKINDEX";

Deno.test("parseApkIndex() reads every record of a realistic index, no problems", () => {
  const { packages, problems } = parseApkIndex(MAIN_APKINDEX, FILE);
  assert.deepEqual(problems, []);
  assert.equal(packages.length, 20);
  const musl = packages[0]!;
  assert.deepEqual(musl, {
    name: "musl",
    version: "1.2.5-r0",
    arch: "x86_64",
    size: 410365,
    installedSize: 662528,
    checksum: "Q1pnXmBGfnIwxlVu3MG+SMeJRp9aM=",
    description: "the musl c library (libc) implementation",
    url: "https://musl.libc.org/",
    license: "MIT",
    origin: "musl",
    maintainer: "Timo Teräs <timo.teras@iki.fi>",
    buildTime: 1711974484,
    commit: "0efa4d7fb0a8d5b39b2d7a3e6d7e0b5f1c8c0e7a",
    depends: [],
    provides: [{ name: "so:libc.musl-x86_64.so.1", version: "1" }],
    installIf: [],
    line: 1,
  });
  const byName = new Map(packages.map((p) => [p.name, p]));
  const binsh = byName.get("busybox-binsh")!;
  assert.equal(binsh.providerPriority, 100);
  assert.equal(binsh.line, 32);
  // "/bin/sh" has no version, "cmd:sh" has one.
  assert.deepEqual(binsh.provides, [{ name: "/bin/sh" }, {
    name: "cmd:sh",
    version: "1.36.1-r29",
  }]);
  assert.deepEqual(binsh.depends, [
    { name: "busybox", op: "=", version: "1.36.1-r29", conflict: false },
  ]);
  assert.deepEqual(byName.get("apk-tools")!.depends[0], {
    name: "musl",
    op: ">=",
    version: "1.2.3_git20230424",
    conflict: false,
  });
  assert.deepEqual(byName.get("bash")!.depends[1], { name: "bash-legacy", conflict: true });
  assert.deepEqual(byName.get("openrc-doc")!.installIf, [
    { name: "docs", conflict: false },
    { name: "openrc", op: "=", version: "0.54-r1", conflict: false },
  ]);
  assert.deepEqual(byName.get("zlib-dev")!.provides, [{ name: "pc:zlib", version: "1.3.1" }]);
  assert.equal(byName.get("docs")!.commit, undefined);
});

Deno.test("parseDependency() reads apk's [!]name[op version] forms", () => {
  const cases: [string, ReturnType<typeof parseDependency>][] = [
    ["busybox", { name: "busybox", conflict: false }],
    ["so:libc.musl-x86_64.so.1", { name: "so:libc.musl-x86_64.so.1", conflict: false }],
    ["/bin/sh", { name: "/bin/sh", conflict: false }],
    ["!busybox-extras", { name: "busybox-extras", conflict: true }],
    ["musl>=1.2.3", { name: "musl", op: ">=", version: "1.2.3", conflict: false }],
    ["python3~3.12", { name: "python3", op: "~", version: "3.12", conflict: false }],
    ["python3=~3.12", { name: "python3", op: "~", version: "3.12", conflict: false }],
    ["foo<2", { name: "foo", op: "<", version: "2", conflict: false }],
    ["foo<=2", { name: "foo", op: "<=", version: "2", conflict: false }],
    ["foo>2", { name: "foo", op: ">", version: "2", conflict: false }],
    ["foo<~2", { name: "foo", op: "<~", version: "2", conflict: false }],
    ["!foo<2", { name: "foo", op: "<", version: "2", conflict: true }],
    ["pc:zlib=1.3.1", { name: "pc:zlib", op: "=", version: "1.3.1", conflict: false }],
    ["", null],
    ["!", null],
    [">=1.0", null],
    ["foo>=", null],
    ["foo><Q1abc=", null], // checksum pins: world files only, not an index
    ["foo bar", null],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseDependency(text), want, text);
  for (const t of ["busybox", "!foo", "musl>=1.2.3", "py3~3.12", "pc:zlib=1.3.1"]) {
    assert.equal(formatDependency(parseDependency(t)!), t);
  }
});

Deno.test("parseApkIndex() reports malformed lines and records with their line, and goes on", () => {
  const text = [
    "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=", // 1
    "P:nover", // 2: no V:
    "A:x86_64",
    "",
    "C:Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB=", // 5
    "V:1.0-r0", // no P:
    "",
    "C:Q1CCCCCCCCCCCCCCCCCCCCCCCCCCC=", // 8
    "P:good",
    "V:1.0-r0",
    "S:12x", // 11: bad number
    "I:99999999999999999999", // 12: too big for a safe integer
    "garbage without a colon", // 13
    "D:ok >=1 bad>=1.0foo", // 14: not a dependency, and an invalid version
    "p:virt<2", // 15: a provide takes "=" only
    "Xyz", // 16
    "Z:installed-db-only",
    "W:unknown upper case", // 18
    "w:unknown lower case is ignored",
    "i:docs good>", // 20: broken install_if is dropped whole
    "x", // 21: a one-character line ends the record, as in apk
    "P:nosum", // 22
    "V:1",
    "",
    "C:not-a-checksum", // 25
    "P:badsum",
    "V:1",
    "",
    "C:Q1DDDDDDDDDDDDDDDDDDDDDDDDDDD=", // 29
    "P:badver",
    "V:1.0bc",
    "",
    "C:Q1EEEEEEEEEEEEEEEEEEEEEEEEEEE=", // 33
    "P:truncated",
    "V:2.0-r0",
    "D:so:libc.mu",
  ].join("\n");
  const { packages, problems } = parseApkIndex(text, FILE);
  assert.deepEqual(packages.map((p) => p.name), ["good", "badver"]);
  const good = packages[0]!;
  assert.equal(good.line, 8);
  assert.equal(good.size, 0);
  assert.equal(good.installedSize, 0);
  assert.deepEqual(good.depends.map(formatDependency), ["ok", "bad>=1.0foo"]);
  assert.deepEqual(good.provides, []);
  assert.deepEqual(good.installIf, []);
  assert.ok(problems.every((p) => p.file === FILE));
  assert.deepEqual(problems.map((p) => p.line), [
    1,
    5,
    11,
    12,
    13,
    14,
    14,
    15,
    16,
    18,
    20,
    21,
    22,
    25,
    29,
    33,
  ]);
  const at = (line: number) => problems.filter((p) => p.line === line).map((p) => p.message);
  assert.match(at(1)[0]!, /no V:/);
  assert.match(at(5)[0]!, /no P:/);
  assert.match(at(11)[0]!, /not a number/);
  assert.match(at(13)[0]!, /not a "X:value" line/);
  assert.match(at(14).join("|"), /">=1" is not a dependency.*invalid version "1.0foo"/);
  assert.match(at(18)[0]!, /unknown field W:/);
  assert.match(at(22)[0]!, /nosum: no C: checksum/);
  assert.match(at(25)[0]!, /bad C: checksum/);
  assert.match(at(29)[0]!, /invalid version "1.0bc"/);
  assert.match(at(33)[0]!, /truncated/);
});

Deno.test("parseApkIndex() takes empty text, a lone record, and repeated D: lines", () => {
  assert.deepEqual(parseApkIndex("", FILE), { packages: [], problems: [] });
  assert.deepEqual(parseApkIndex("\n\n\n", FILE), { packages: [], problems: [] });
  const one = parseApkIndex("C:Q1AAAA=\nP:a\nV:1\nD:b\nD:c>1\np:x\np:y=2\n\n", FILE);
  assert.deepEqual(one.problems, []);
  // apk appends every D:/p: line to the list.
  assert.deepEqual(one.packages[0]!.depends.map(formatDependency), ["b", "c>1"]);
  assert.deepEqual(one.packages[0]!.provides, [{ name: "x" }, { name: "y", version: "2" }]);
  assert.equal(one.packages[0]!.arch, "");
});

Deno.test("parseApkIndex() never throws, and every problem points at a real line (property)", () => {
  const lineArb = fc.oneof(
    fc.constantFrom("", "P:a", "V:1.0", "C:Q1AAAA=", "D:!x y>=1 z~", "i:a b=1", "p:so:x=1", "k:ab"),
    fc.string({ maxLength: 30 }),
    fc.tuple(fc.constantFrom(..."CPVASITULomtcDpik"), fc.string({ maxLength: 20 }))
      .map(([k, v]) => `${k}:${v}`),
  );
  fc.assert(
    fc.property(fc.array(lineArb, { maxLength: 40 }), (lines) => {
      const text = lines.join("\n");
      const { packages, problems } = parseApkIndex(text, FILE);
      const count = text.split("\n").length;
      for (const p of problems) assert.ok(p.line >= 1 && p.line <= count, JSON.stringify(p));
      for (const p of packages) assert.ok(p.name !== "" && p.version !== "");
    }),
    { numRuns: 500 },
  );
});
