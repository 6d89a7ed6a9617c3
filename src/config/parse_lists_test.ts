import assert from "node:assert/strict";
import {
  parseCmdlineFile,
  parseGroupsFile,
  parsePackagesFile,
  parseUuidFile,
} from "./parse_lists.ts";
import { parseNetworkConf } from "./parse_network.ts";

Deno.test("UUID file: 8 lower-case hex or default, whitespace ignored", () => {
  assert.equal(parseUuidFile("10eff964\n", "U").value, "10eff964");
  assert.equal(parseUuidFile("  default \n", "U").value, "default");
  for (const bad of ["", "10EFF964", "10eff96", "10eff9640", "zzzzzzzz", "default\nx", "Default"]) {
    const r = parseUuidFile(bad, "U");
    assert.equal(r.value, null, bad);
    assert.equal(r.issues[0]!.line, 1);
  }
});

Deno.test("groups file: comments, unknown and repeated groups at their lines", () => {
  const known = new Set(["a", "b"]);
  const r = parseGroupsFile("# x\na\n\nc\nb # trailing\na\n", "G", known);
  assert.deepEqual(r.value, ["a", "b"]);
  assert.deepEqual(r.issues.map((i) => [i.line, i.message]), [
    [4, 'no such group "c" (no folder groups/c)'],
    [6, 'group "a" is already listed at line 2'],
  ]);
});

Deno.test("packages file: names, constraints, bad names at their lines", () => {
  const r = parsePackagesFile(
    "alpine-base\n# c\nfoo>=1.2\nlibstdc++\npy3-foo@edge\nBad\nfoo bar\n",
    "P",
  );
  assert.deepEqual(r.value.map((p) => p.name), [
    "alpine-base",
    "foo>=1.2",
    "libstdc++",
    "py3-foo@edge",
  ]);
  assert.deepEqual(r.issues.map((i) => i.line), [6, 7]);
});

Deno.test("cmdline file: one line", () => {
  assert.equal(parseCmdlineFile("quiet nomodeset\n", "C").value, "quiet nomodeset");
  assert.equal(parseCmdlineFile("\n", "C").value, undefined);
  assert.equal(parseCmdlineFile("a\nb\n", "C").issues[0]!.line, 2);
});

Deno.test("network conf: name, prefix, vni", () => {
  const r = parseNetworkConf(
    "# mesh\nname=manage\nprefix=fd42:1234:5678:9abc:0:0:0:0/64\nvni=456\n",
    "N",
  );
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.value, {
    file: "N",
    name: "manage",
    prefix: "fd42:1234:5678:9abc::/64",
    vni: 456,
    port: 8000,
    mtu: 1450,
    nodes: null,
    at: { name: 2, prefix: 3, vni: 4 },
  });
  // without vni=, one derived from the name (parse_network_test.ts has the rest)
  assert.ok(parseNetworkConf("name=x\nprefix=fd00::/64\n", "N").value!.vni >= 0x100000);
});

Deno.test("network conf: each problem named", () => {
  const msgs = (t: string) =>
    parseNetworkConf(t, "N").issues.map((i) => `${i.line ?? "-"} ${i.message}`);
  assert.deepEqual(msgs("prefix=fd00::/64\n"), ["- missing required key name"]);
  assert.deepEqual(msgs("name=x\n"), ["- missing required key prefix"]);
  assert.match(msgs("name=two words\nprefix=fd00::/64\n")[0]!, /^1 name must be one word/);
  assert.match(msgs("name=x\nprefix=fd00::/48\n")[0]!, /^2 prefix must be an IPv6 \/64/);
  assert.match(msgs("name=x\nprefix=fd00::1/64\n")[0]!, /^2 prefix .* host bits/);
  assert.match(
    msgs("name=x\nprefix=fd00::/64\nvni=16777216\n")[0]!,
    /^3 vni must be 1\.\.16777215/,
  );
  assert.match(
    msgs("name=x\nprefix=fd00::/64\nvin=3\n")[0]!,
    /^3 unknown key "vin" \(did you mean "vni"\?\)/,
  );
  assert.match(msgs("name=x\nname=y\nprefix=fd00::/64\n")[0]!, /^2 name is already set at line 1/);
});
