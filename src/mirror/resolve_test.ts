import assert from "node:assert/strict";
import fc from "fast-check";
import { parseApkIndex, parseDependency, type Provide } from "./apkindex.ts";
import { type RepoPackage, resolveClosure, type Wanted } from "./resolve.ts";
import { MAIN_APKINDEX } from "./_apkindex_fixture.ts";

const MAIN: RepoPackage[] = parseApkIndex(MAIN_APKINDEX, "main/APKINDEX").packages
  .map((p) => ({ ...p, repo: "main" }));

interface Spec {
  readonly d?: string;
  readonly p?: string;
  readonly i?: string;
  readonly k?: number;
  readonly repo?: string;
}

/** A package from APKINDEX-style strings: `pkg("a", "1.0-r0", { d: "b>=1 !c", p: "so:x=1" })`. */
function pkg(name: string, version: string, spec: Spec = {}): RepoPackage {
  const deps = (s = "") => s.split(" ").filter((t) => t).map((t) => parseDependency(t)!);
  const provides: Provide[] = deps(spec.p).map((d) =>
    d.version === undefined ? { name: d.name } : { name: d.name, version: d.version }
  );
  return {
    name,
    version,
    arch: "x86_64",
    size: 1000,
    installedSize: 4096,
    checksum: `Q1${name}-${version}-${spec.repo ?? "main"}=`,
    depends: deps(spec.d),
    provides,
    installIf: deps(spec.i),
    ...(spec.k === undefined ? {} : { providerPriority: spec.k }),
    line: 1,
    repo: spec.repo ?? "main",
  };
}

const want = (...names: string[]): Wanted[] =>
  names.map((name, i) => ({ name, from: `/host0/packages:${i + 1}` }));
const names = (index: readonly RepoPackage[], wanted: readonly Wanted[]) =>
  resolveClosure(index, wanted).packages.map((p) => `${p.repo}/${p.name}-${p.version}`);

Deno.test("resolveClosure() of alpine-base over a realistic index", () => {
  const r = resolveClosure(MAIN, [{ name: "alpine-base", from: "alpine-base (initramfs)" }]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.packages.map((p) => p.name), [
    "alpine-base",
    "alpine-baselayout",
    "alpine-baselayout-data",
    "apk-tools",
    "busybox",
    "busybox-binsh", // /bin/sh: k:100 beats dash-binsh's k:60
    "ifupdown-ng", // ifupdown-any, a non-versioned provide with k:900
    "libcrypto3", // so:libcrypto.so.3
    "libssl3",
    "musl", // so:libc.musl-x86_64.so.1, and musl>=1.2.3_git20230424
    "openrc",
    "zlib",
  ]);
});

Deno.test("resolveClosure(): install_if, conflicts and unsatisfiable chains on the realistic index", () => {
  const r = resolveClosure(MAIN, [
    { name: "alpine-base", from: "alpine-base (initramfs)" },
    { name: "docs", from: "/host0/packages:1" },
    { name: "bash", from: "/host0/machines/web/packages:2" },
  ]);
  const got = new Set(r.packages.map((p) => p.name));
  assert.ok(got.has("openrc-doc"), "i:docs openrc=0.54-r1 holds");
  assert.ok(!got.has("openrc-bash-completion"), "bash-completion is not in the closure");
  assert.ok(!got.has("dash-binsh"));
  assert.deepEqual(r.errors, [
    "/host0/machines/web/packages:2: bash -> so:libreadline.so.8: nothing provides it",
    "/host0/packages:1: docs -> doc-provider: nothing provides it",
  ]);
});

Deno.test("resolveClosure(): virtual and so: provides, and a version constraint on them", () => {
  const index = [
    pkg("app", "1.0-r0", { d: "so:libfoo.so.1 cmd:frob" }),
    pkg("libfoo", "1.2-r0", { p: "so:libfoo.so.1=1.2.0" }),
    pkg("libfoo-old", "0.9-r0", { p: "so:libfoo.so.1=1.1.0", k: 500 }),
    pkg("frobber", "2.0-r0", { p: "cmd:frob=2.0-r0" }),
    pkg("picky", "1.0-r0", { d: "so:libfoo.so.1<1.2" }),
  ];
  // The newest provided version wins before k: (apk's "latest by requested name").
  assert.deepEqual(names(index, want("app")), [
    "main/app-1.0-r0",
    "main/frobber-2.0-r0",
    "main/libfoo-1.2-r0",
  ]);
  assert.deepEqual(names(index, want("picky")), ["main/libfoo-old-0.9-r0", "main/picky-1.0-r0"]);
});

Deno.test("resolveClosure(): provider priority ranks non-versioned provides", () => {
  const shells = (kBusybox: number, kDash: number) => [
    pkg("x", "1", { d: "/bin/sh" }),
    pkg("busybox-binsh", "1.36.1-r29", { p: "/bin/sh", k: kBusybox }),
    pkg("dash-binsh", "0.5.12-r3", { p: "/bin/sh", k: kDash }),
    pkg("yash-binsh", "2.56-r0", { p: "/bin/sh" }), // no k: apk never picks it on its own
  ];
  assert.deepEqual(names(shells(100, 60), want("x")), [
    "main/busybox-binsh-1.36.1-r29",
    "main/x-1",
  ]);
  assert.deepEqual(names(shells(60, 100), want("x")), ["main/dash-binsh-0.5.12-r3", "main/x-1"]);
  // A versioned provide cannot be outranked by a non-versioned one.
  const mixed = [...shells(100, 60), pkg("toybox", "0.8-r0", { p: "/bin/sh=0.8" })];
  assert.deepEqual(names(mixed, want("x")), ["main/toybox-0.8-r0", "main/x-1"]);
  // Naming a provider directly always works.
  assert.deepEqual(names(shells(100, 60), want("yash-binsh")), ["main/yash-binsh-2.56-r0"]);
});

Deno.test("resolveClosure(): versions, constraints and repository order", () => {
  const index = [
    pkg("foo", "1.0-r0"),
    pkg("foo", "2.1-r0", { repo: "community" }),
    pkg("bar", "1.0-r0", { repo: "community" }),
    pkg("bar", "1.0-r0"),
    pkg("a", "1", { d: "foo<2" }),
    pkg("b", "1", { d: "foo>=3" }),
  ];
  assert.deepEqual(names(index, want("foo")), ["community/foo-2.1-r0"]);
  assert.deepEqual(names(index, want("foo>=2")), ["community/foo-2.1-r0"]);
  assert.deepEqual(names(index, want("a")), ["main/a-1", "main/foo-1.0-r0"]);
  assert.deepEqual(names(index, want("bar")), ["main/bar-1.0-r0"], "main before community");
  const r = resolveClosure(index, want("b", "nothing-here", "foo>=9", "bad name"));
  assert.deepEqual(r.packages.map((p) => p.name), ["b"]);
  assert.deepEqual(r.errors, [
    "/host0/packages:1: b -> foo>=3: no provider satisfies >=3 (have foo-1.0-r0, foo-2.1-r0)",
    "/host0/packages:2: nothing-here: nothing provides it",
    "/host0/packages:3: foo>=9: no provider satisfies >=9 (have foo-1.0-r0, foo-2.1-r0)",
    '/host0/packages:4: "bad name" is not a package name',
  ]);
});

Deno.test("resolveClosure(): conflicts are never followed, cycles end", () => {
  const index = [
    pkg("a", "1", { d: "b !c" }),
    pkg("b", "1", { d: "d" }),
    pkg("c", "1"),
    pkg("d", "1", { d: "a b" }), // a -> b -> d -> a
  ];
  assert.deepEqual(names(index, want("a")), ["main/a-1", "main/b-1", "main/d-1"]);
  assert.deepEqual(names(index, want("!c")), []);
});

Deno.test("resolveClosure(): install_if, single and chained, with versions and dependencies", () => {
  const index = [
    pkg("app", "1.0-r0"),
    pkg("lang", "1"),
    pkg("de", "1"),
    pkg("app-lang", "1.0-r0", { i: "app=1.0-r0 lang", d: "gettext" }),
    pkg("gettext", "0.22-r0"),
    pkg("app-lang-de", "1.0-r0", { i: "app-lang de" }), // chained on app-lang
    pkg("app-old-lang", "0.9-r0", { i: "app=0.9-r0 lang" }), // wrong version
    pkg("app-nox", "1.0-r0", { i: "app !xorg" }), // may hold on some node: kept
    pkg("gettext-doc", "1", { i: "gettext docs" }),
  ];
  const got = names(index, want("app", "lang", "de"));
  assert.deepEqual(got, [
    "main/app-1.0-r0",
    "main/app-lang-1.0-r0",
    "main/app-lang-de-1.0-r0",
    "main/app-nox-1.0-r0",
    "main/de-1",
    "main/gettext-0.22-r0",
    "main/lang-1",
  ]);
  assert.deepEqual(names(index, want("app")), ["main/app-1.0-r0", "main/app-nox-1.0-r0"]);
});

Deno.test("resolveClosure(): an unsatisfiable dependency names its chain and root, the rest resolves", () => {
  const index = [
    pkg("alpine-base", "3.20.3-r0", { d: "openrc musl" }),
    pkg("openrc", "0.54-r1", { d: "so:libfoo.so.1 musl" }),
    pkg("musl", "1.2.5-r0"),
  ];
  const r = resolveClosure(index, [{ name: "alpine-base", from: "/host0/packages:3" }]);
  assert.deepEqual(r.packages.map((p) => p.name), ["alpine-base", "musl", "openrc"]);
  assert.deepEqual(r.errors, [
    "/host0/packages:3: alpine-base -> openrc -> so:libfoo.so.1: nothing provides it",
  ]);
});

Deno.test("resolveClosure() gives the same answer for the same input in any order (property)", () => {
  const index = [
    ...MAIN,
    pkg("dup", "1"),
    pkg("dup", "1"),
    pkg("musl", "1.2.5-r0", { repo: "community" }),
  ];
  const wanted = want("alpine-base", "docs", "bash", "zlib-dev", "dup", "cmd:sh", "dash-binsh");
  const expected = resolveClosure(index, wanted);
  assert.equal(expected.packages.filter((p) => p.name === "dup").length, 1);
  fc.assert(
    fc.property(
      fc.shuffledSubarray(index, { minLength: index.length }),
      fc.shuffledSubarray(wanted, { minLength: wanted.length }),
      (i, w) => {
        assert.deepEqual(resolveClosure(i, w), expected);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("resolveClosure() of a 500-package synthetic index", () => {
  // Deterministic pseudo-random index: each package depends on earlier ones,
  // by name, by so: provide, or by a virtual name; some are install_if.
  let seed = 12345;
  const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const index: RepoPackage[] = [];
  for (let i = 0; i < 500; i++) {
    const d: string[] = [];
    for (let j = 0; j < 3 && i > 0; j++) {
      const t = rand(i);
      d.push([`p${t}`, `so:libp${t}.so.1`, `p${t}>=1.0`][rand(3)]!);
    }
    const i_ = i > 10 && rand(10) === 0 ? `p${rand(i)} p${rand(i)}` : "";
    index.push(pkg(`p${i}`, `1.${rand(5)}-r${rand(3)}`, {
      d: d.join(" "),
      p: `so:libp${i}.so.1=1 cmd:p${i}`,
      i: i_,
      repo: rand(2) ? "main" : "community",
    }));
  }
  const wanted = want(...Array.from({ length: 20 }, (_, k) => `p${480 + k}`));
  const start = performance.now();
  const r = resolveClosure(index, wanted);
  const ms = performance.now() - start;
  console.log(
    `500-package index: ${r.packages.length} packages in the closure, ${ms.toFixed(1)} ms`,
  );
  assert.deepEqual(r.errors, []);
  assert.ok(r.packages.length >= 20);
});
