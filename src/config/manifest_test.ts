import assert from "node:assert/strict";
import fc from "fast-check";
import { parseManifest, parseMode } from "./manifest.ts";

const FILE = "/srv/h0/machines/a/manifest";
const parse = (text: string) => parseManifest(text, FILE, "/srv/h0");

Deno.test("manifest: each action parses, /host0/ is mapped onto the real dir", () => {
  const r = parse(`# comment

O MODE=root:root:0644 SRC=/host0/machines/a/hostname TGT=/etc/hostname
A MODE=0:10:640 SRC=/srv/h0/machines/a/extra TGT=/etc//motd/
  L SRC=/usr/share/zoneinfo/UTC TGT=/etc/localtime
D MODE=nobody:nogroup:1777 TGT=/srv/./scratch
`);
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.value, [
    {
      file: FILE,
      line: 3,
      action: "O",
      tgt: "/etc/hostname",
      mode: { uid: 0, gid: 0, user: "root", group: "root", perms: 0o644 },
      src: "/srv/h0/machines/a/hostname",
      srcText: "/host0/machines/a/hostname",
    },
    {
      file: FILE,
      line: 4,
      action: "A",
      tgt: "/etc/motd",
      mode: { uid: 0, gid: 10, user: "root", group: "wheel", perms: 0o640 },
      src: "/srv/h0/machines/a/extra",
      srcText: "/srv/h0/machines/a/extra",
    },
    {
      file: FILE,
      line: 5,
      action: "L",
      tgt: "/etc/localtime",
      src: "/usr/share/zoneinfo/UTC",
      srcText: "/usr/share/zoneinfo/UTC",
    },
    {
      file: FILE,
      line: 6,
      action: "D",
      tgt: "/srv/scratch",
      mode: { uid: 65534, gid: 65533, user: "nobody", group: "nogroup", perms: 0o1777 },
    },
  ]);
});

Deno.test("manifest: every error kind names its line", () => {
  const cases: [string, RegExp][] = [
    ["X MODE=root:root:0644 TGT=/a", /unknown action "X"/],
    ["o MODE=root:root:0644 SRC=/host0/a TGT=/a", /unknown action "o"/],
    ["O MODE=root:root:0644 SRC=/host0/a TGT=/a OWNER=x", /unknown field "OWNER"/],
    ["O MODE=root:root:0644 SRC=/host0/a TGT=/a TGT=/b", /duplicate field TGT/],
    ["O MODE=root:root:0644 SRC=/host0/a", /O requires TGT=/],
    ["O SRC=/host0/a TGT=/a", /O requires MODE=/],
    ["A MODE=root:root:0644 TGT=/a", /A requires SRC=/],
    ["L TGT=/a", /L requires SRC=/],
    ["L MODE=root:root:0644 SRC=/x TGT=/a", /L does not take MODE/],
    ["D MODE=root:root:0755 SRC=/host0/a TGT=/a", /D does not take SRC/],
    ["D TGT=/a", /D requires MODE=/],
    ["O MODE=root:root:0644 SRC=host0/a TGT=/a", /SRC must be an absolute path/],
    ["O MODE=root:root:0644 SRC=/host0/a TGT=etc/a", /TGT must be an absolute path/],
    ["O MODE=root:root:0644 SRC=/host0/a TGT=/etc/../a", /TGT must not contain "\.\."/],
    ["D MODE=root:root:0755 TGT=/", /TGT must not be \//],
    ["O MODE=root:root:0644 SRC=/etc/shadow TGT=/a", /SRC must be a file under \/host0\//],
    ["O MODE=root:root:0644 SRC=/host0/../etc/shadow TGT=/a", /SRC must be a file under/],
    ["O MODE=root:root:644x SRC=/host0/a TGT=/a", /perms must be 3 or 4 octal digits/],
    ["O MODE=root:root:0844 SRC=/host0/a TGT=/a", /perms must be 3 or 4 octal digits/],
    ["O MODE=root:root:64 SRC=/host0/a TGT=/a", /perms must be 3 or 4 octal digits/],
    [
      "O MODE=rot:root:0644 SRC=/host0/a TGT=/a",
      /unknown user "rot" in MODE \(did you mean "root"\?\)/,
    ],
    ["O MODE=root:wheell:0644 SRC=/host0/a TGT=/a", /unknown group "wheell".*did you mean "wheel"/],
    ["O MODE=root:0644 SRC=/host0/a TGT=/a", /MODE must be user:group:perms/],
    ["O MODE=root:root:0644 SRC /host0/a TGT=/a", /expected FIELD=value/],
  ];
  for (const [line, want] of cases) {
    const r = parse(`# first\n${line}\n`);
    assert.equal(r.value.length, 0, line);
    assert.ok(r.issues.length >= 1, line);
    assert.equal(r.issues[0]!.line, 2, line);
    assert.equal(r.issues[0]!.file, FILE);
    assert.match(r.issues[0]!.message, want, line);
  }
});

Deno.test("manifest: all bad lines are reported, good ones kept", () => {
  const r = parse("Q\nD MODE=root:root:0755 TGT=/ok\nO TGT=/x\n");
  assert.deepEqual(r.issues.map((i) => i.line), [1, 3, 3]);
  assert.deepEqual(r.value.map((l) => l.tgt), ["/ok"]);
});

Deno.test("manifest: when host0 is /host0 itself the path is unchanged", () => {
  const r = parseManifest("O MODE=root:root:0644 SRC=/host0/x TGT=/x\n", "m", "/host0");
  assert.equal(r.value[0]!.src, "/host0/x");
});

Deno.test("parseMode: numeric ids without an Alpine name keep an empty name", () => {
  assert.deepEqual(parseMode("1000:1000:0600"), {
    uid: 1000,
    gid: 1000,
    user: "",
    group: "",
    perms: 0o600,
  });
  assert.match(parseMode("99999999:0:0600") as string, /unknown user/);
});

Deno.test("manifest property: arbitrary text yields issues with line numbers, never a throw", () => {
  const token = fc.oneof(
    fc.constantFrom(
      "O",
      "A",
      "L",
      "D",
      "X",
      "#",
      "MODE=",
      "SRC=",
      "TGT=",
      "=",
      "/",
      "..",
      "/host0/",
    ),
    fc.constantFrom("MODE=root:root:0644", "SRC=/host0/a", "TGT=/etc/a", "TGT=/", "MODE=a:b:c"),
    fc.string({ maxLength: 12 }),
  );
  const line = fc.tuple(fc.array(token, { maxLength: 6 }), fc.constantFrom(" ", "\t", "  "))
    .map(([t, sep]) => t.join(sep));
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.array(line, { maxLength: 8 }).map((l) => l.join("\n")),
  );
  fc.assert(
    fc.property(text, (t) => {
      const r = parse(t);
      const lineCount = t.split("\n").length;
      for (const i of r.issues) {
        assert.equal(i.file, FILE);
        assert.ok(Number.isInteger(i.line) && i.line! >= 1 && i.line! <= lineCount);
        assert.ok(i.message.length > 0);
      }
      for (const l of r.value) {
        assert.ok(l.tgt.startsWith("/") && l.tgt !== "/" && !l.tgt.split("/").includes(".."));
      }
    }),
    { numRuns: 3000 },
  );
});
