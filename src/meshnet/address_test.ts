import assert from "node:assert/strict";
import fc from "fast-check";
import { parseIpv6 } from "../config/mod.ts";
import {
  centralAddress,
  interfaceIdHex,
  linkNames,
  meshAddress,
  meshMac,
  prefix64,
} from "./address.ts";

const PREFIX = "fd42:1234:5678:9abc::/64";

Deno.test("mesh address: in the prefix, stable, different per node and per mesh", () => {
  const a = meshAddress(PREFIX, "manage", "10eff964");
  assert.equal(a, meshAddress(PREFIX, "manage", "10eff964"));
  assert.ok(a.startsWith("fd42:1234:5678:9abc:"), a);
  assert.notEqual(a, meshAddress(PREFIX, "manage", "5e2d9a41"));
  assert.notEqual(a, meshAddress(PREFIX, "storage", "10eff964"));
  assert.equal(centralAddress(PREFIX), "fd42:1234:5678:9abc::1");
  assert.equal(centralAddress("fd00::/64"), "fd00::1");
  assert.equal(prefix64("fd00::/64"), "fd00:0000:0000:0000");
});

Deno.test("mesh address: never ::0 or ::1, for any name and id", () => {
  fc.assert(fc.property(fc.string(), fc.string(), (name, id) => {
    const iid = BigInt(`0x${interfaceIdHex(name, id)}`);
    assert.ok(iid >= 2n);
    const g = parseIpv6(meshAddress("fd00:1::/64", name, id))!;
    assert.deepEqual(g.slice(0, 4), [0xfd00, 1, 0, 0]);
    assert.ok(g.slice(4).some((x, i) => i < 3 ? x !== 0 : x > 1));
  }));
});

Deno.test("mesh MAC: locally administered unicast, per node and mesh", () => {
  fc.assert(fc.property(fc.string(), fc.string(), (name, id) => {
    const mac = meshMac(name, id);
    assert.match(mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const first = parseInt(mac.slice(0, 2), 16);
    assert.equal(first & 0x03, 0x02);
  }));
  assert.notEqual(meshMac("manage", "central"), meshMac("manage", "10eff964"));
  assert.deepEqual(linkNames(456), { vxlan: "vxlan456", bridge: "br456" });
});
