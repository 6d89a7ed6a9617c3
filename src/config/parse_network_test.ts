import assert from "node:assert/strict";
import { checkNetworks, DEFAULT_NETWORK, derivedVni, parseNetworkConf } from "./parse_network.ts";
import type { Network } from "./types.ts";

const msgs = (t: string) =>
  parseNetworkConf(t, "N").issues.map((i) => `${i.line ?? "-"} ${i.message}`);

Deno.test("network conf: nodes, port, mtu; defaults; a vni derived from the name", () => {
  const r = parseNetworkConf(
    "name=storage\nprefix=fd42:1::/64\nnodes=storage-1, group:storage 5e2d9a41\nport=8080\nmtu=9000\n",
    "N",
  );
  assert.deepEqual(r.issues, [{
    file: "N",
    line: 5,
    message: 'mtu must be 1280..8950, got "9000"',
  }]);
  const ok = parseNetworkConf(
    "name=storage\nprefix=fd42:1::/64\nnodes=storage-1, group:storage 5e2d9a41\nport=8080\nmtu=8950\n",
    "N",
  ).value!;
  assert.deepEqual(ok.nodes, ["storage-1", "group:storage", "5e2d9a41"]);
  assert.equal(ok.port, 8080);
  assert.equal(ok.mtu, 8950);
  assert.equal(ok.vni, derivedVni("storage"));
  const plain = parseNetworkConf("name=x\nprefix=fd00::/64\nnodes=all\n", "N").value!;
  assert.equal(plain.nodes, null);
  assert.equal(plain.port, 8000);
  assert.equal(plain.mtu, 1450);
  assert.ok(derivedVni("x") >= 0x100000 && derivedVni("x") <= 0xffffff);
});

Deno.test("network conf: bad nodes, port, prefix kinds named at their line", () => {
  assert.match(msgs("name=x\nprefix=fd00::/64\nnodes=a b/c\n")[0]!, /^3 nodes lists .* "b\/c"/);
  assert.match(msgs("name=x\nprefix=fd00::/64\nport=0\n")[0]!, /^3 port must be 1\.\.65535/);
  assert.match(msgs("name=x\nprefix=ff02::/64\n")[0]!, /^2 prefix .* multicast or link-local/);
  assert.match(msgs("name=x\nprefix=fe80::/64\n")[0]!, /^2 prefix .* multicast or link-local/);
});

function net(over: Partial<Network> & { name: string }): Network {
  return {
    file: `/h/network/${over.name}.conf`,
    prefix: "fd42:1::/64",
    vni: 7,
    port: 8000,
    mtu: 1450,
    nodes: null,
    at: { name: 1, prefix: 2, vni: 3, nodes: 4 },
    ...over,
  };
}

Deno.test("networks across files: names, vnis, prefixes unique; nodes= must exist", () => {
  const ctx = { folders: new Set(["storage-1", "default"]), groups: new Set(["storage"]) };
  const r = checkNetworks([
    net({ name: "a" }),
    net({ name: "a", vni: 8, prefix: "fd42:2::/64" }),
    net({ name: "b", prefix: "fd42:3::/64" }),
    net({ name: "c", vni: 9 }),
    net({ name: "d", vni: DEFAULT_NETWORK.vni, prefix: "fd42:4::/64" }),
    net({ name: "e", vni: 10, prefix: "fd42:5::/64", nodes: ["group:storag", "storage-2"] }),
    net({
      name: "f",
      vni: 11,
      prefix: "fd42:6::/64",
      nodes: ["storage-1", "group:storage", "feedf00d"],
    }),
  ], ctx);
  assert.deepEqual(r.value.map((n) => n.name), ["a", "f"]);
  assert.deepEqual(r.issues.map((i) => `${i.file}:${i.line} ${i.message}`), [
    "/h/network/a.conf:1 network name a is also used by /h/network/a.conf",
    "/h/network/b.conf:3 vni 7 is also used by /h/network/a.conf",
    "/h/network/c.conf:2 prefix fd42:1::/64 is also used by /h/network/a.conf",
    `/h/network/d.conf:3 vni ${DEFAULT_NETWORK.vni} is also used by the built-in default mesh`,
    '/h/network/e.conf:4 nodes: no group "storag" in groups/ (did you mean "storage"?)',
    '/h/network/e.conf:4 nodes: "storage-2" is neither a machine folder nor an 8-hex node id (did you mean "storage-1"?)',
  ]);
  // a file named default replaces the built-in mesh, so its vni is free
  const own = checkNetworks([
    net({ name: "default", vni: 1 }),
    net({ name: "z", vni: 4000, prefix: "fd42:9::/64" }),
  ], ctx);
  assert.deepEqual(own.issues, []);
  assert.equal(own.value.length, 2);
});
