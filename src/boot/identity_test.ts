import assert from "node:assert/strict";
import { identify, type IdentityFacts } from "./identity.ts";
import { nodeIdFor } from "./node_id.ts";

const MAC = "52:54:00:00:00:01";
const EVIL = "52:54:00:00:00:66";
const UUID = "7e570000-0000-4000-8000-525400000001";
const OTHER_UUID = "7e570000-0000-4000-8000-5254000000ff";
const ID = nodeIdFor({ uuid: UUID }).id;

function facts(
  over: Partial<IdentityFacts> & { bound?: Record<string, string> } = {},
): IdentityFacts {
  const bound = over.bound ?? {};
  return {
    leaseMac: over.leaseMac,
    dhcpUuid: over.dhcpUuid,
    boundMac: over.boundMac ?? ((id) => bound[id]),
    nodeOfMac: over.nodeOfMac ??
      ((mac) => Object.entries(bound).find(([, m]) => m === mac)?.[0]),
  };
}

Deno.test("identity: no lease, no node (lease mode), whatever the query says", () => {
  const r = identify(facts(), { mac: MAC, uuid: UUID }, "lease");
  assert.equal(r.known, false);
});

Deno.test("identity: the lease's MAC and option 97 decide; a contradicting query is ignored", () => {
  const r = identify(
    facts({ leaseMac: MAC, dhcpUuid: UUID }),
    { mac: EVIL, uuid: OTHER_UUID },
    "lease",
  );
  assert.ok(r.known);
  assert.equal(r.nodeId, ID);
  assert.equal(r.mac, MAC);
  assert.equal(r.ignored.length, 2);
});

Deno.test("identity: a UUID of a node bound to another MAC is refused, by query or option 97", () => {
  const bound = { [ID]: MAC };
  for (
    const f of [facts({ leaseMac: EVIL, bound }), facts({ leaseMac: EVIL, dhcpUuid: UUID, bound })]
  ) {
    const r = identify(f, { uuid: UUID }, "lease");
    assert.ok(r.known);
    assert.equal(r.nodeId, nodeIdFor({ mac: EVIL }).id, "falls back to the asker's own MAC id");
    assert.match(r.ignored.join(), /bound to 52:54:00:00:00:01/);
  }
});

Deno.test("identity: without a UUID a MAC is the node it identified as before", () => {
  const r = identify(facts({ leaseMac: MAC, bound: { [ID]: MAC } }), {}, "lease");
  assert.ok(r.known);
  assert.equal(r.nodeId, ID);
});

Deno.test("identity: an all-zero UUID falls back to the MAC rule", () => {
  const r = identify(
    facts({ leaseMac: MAC }),
    { uuid: "00000000-0000-0000-0000-000000000000" },
    "lease",
  );
  assert.ok(r.known);
  assert.equal(r.nodeId, nodeIdFor({ mac: MAC }).id);
});

Deno.test("identity: claim mode takes the query, still bound to the first MAC", () => {
  const ok = identify(facts(), { mac: MAC, uuid: UUID }, "claim");
  assert.ok(ok.known);
  assert.equal(ok.nodeId, ID);
  const evil = identify(facts({ bound: { [ID]: MAC } }), { mac: EVIL, uuid: UUID }, "claim");
  assert.ok(evil.known);
  assert.notEqual(evil.nodeId, ID);
  assert.equal(identify(facts(), { mac: "junk" }, "claim").known, false);
});
