/**
 * A host on the boot network as an attacker: it holds a lease of its own (or
 * none) and sends whatever it likes. None of it may reach another node's
 * overlay or change another node's record.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../boot/mod.ts";
import { makeFixture, NODE_ID, NODE_IP, NODE_MAC, NODE_UUID, OTHER_IP } from "./_app_fixture.ts";

const EVIL_IP = "10.11.1.66";
const EVIL_MAC = "52:54:00:66:66:66";

async function bytes(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("hostile: a lease holder claiming the victim's UUID gets no overlay of the victim by any name", async () => {
  await using f = await makeFixture();
  f.leases.grant(EVIL_IP, EVIL_MAC);
  // the victim boots first (its lease, its UUID)
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  // the attacker claims the victim's UUID and MAC in its own boot script request
  for (
    const q of [
      `mac=${EVIL_MAC}&uuid=${NODE_UUID}`,
      `mac=${NODE_MAC}&uuid=${NODE_UUID}`,
      `uuid=${NODE_UUID}`,
    ]
  ) {
    const script = await (await f.req(`/boot.ipxe?${q}`, undefined, EVIL_IP)).text();
    assert.ok(!script.includes(NODE_ID), `script for ${q} names the victim`);
  }
  for (
    const name of [
      NODE_ID,
      NODE_UUID,
      NODE_UUID.toUpperCase(),
      NODE_MAC,
      NODE_MAC.replaceAll(":", "-"),
      "00000000-0000-0000-0000-000000000000",
    ]
  ) {
    const res = await f.req(`/apkovl/${name}.tar.gz`, undefined, EVIL_IP);
    const body = await bytes(res);
    assert.notDeepEqual(body, f.files.nodeOverlay, `victim overlay leaked via ${name}`);
  }
  // the victim is untouched and still gets its own overlay
  const node = f.registry.get(NODE_ID)!;
  assert.equal(node.mac, NODE_MAC);
  assert.equal(node.ip, NODE_IP);
  assert.deepEqual(await bytes(await f.req(`/apkovl/${NODE_ID}.tar.gz`)), f.files.nodeOverlay);
});

Deno.test("hostile: option 97 with the victim's UUID from another MAC is not the victim", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  f.leases.grant(EVIL_IP, EVIL_MAC, NODE_UUID); // its DHCP carried the victim's UUID
  const script = await (await f.req(`/boot.ipxe?uuid=${NODE_UUID}`, undefined, EVIL_IP)).text();
  assert.ok(!script.includes(NODE_ID));
  assert.equal((await f.req(`/apkovl/${NODE_ID}.tar.gz`, undefined, EVIL_IP)).status, 403);
});

Deno.test("hostile: no lease, no writes: online report and boot-script rewrite change nothing", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  const before = f.registry.get(NODE_ID)!;
  const report = await f.req(`/api/v1/report/online?id=${NODE_ID}`, undefined, OTHER_IP);
  assert.equal(report.status, 403);
  await report.body?.cancel();
  const fresh = await f.req(`/api/v1/report/online?id=0badc0de`, undefined, OTHER_IP);
  assert.equal(fresh.status, 403);
  await fresh.body?.cancel();
  // a lease holder reporting for another node is refused as well
  f.leases.grant(EVIL_IP, EVIL_MAC);
  const other = await f.req(`/api/v1/report/online?id=${NODE_ID}`, undefined, EVIL_IP);
  assert.equal(other.status, 403);
  await other.body?.cancel();
  await (await f.req(`/boot.ipxe?mac=02:00:00:00:00:01&uuid=${NODE_UUID}`, undefined, OTHER_IP))
    .text();
  const after = f.registry.get(NODE_ID)!;
  assert.equal(after.stage, before.stage);
  assert.equal(after.mac, NODE_MAC);
  assert.equal(after.ip, NODE_IP);
  assert.equal(f.registry.get("0badc0de"), undefined);
  const metrics = await (await f.req("/metrics")).text();
  assert.match(metrics, /^mesh_http_report_refusals_total 3$/m);
});

Deno.test("hostile: 3,000 boot script requests with random MACs create no node", async () => {
  await using f = await makeFixture();
  for (let i = 0; i < 3000; i++) {
    const mac = `02:${
      [i >> 16, (i >> 8) & 255, i & 255, 1, 2].map((b) => b.toString(16).padStart(2, "0")).join(":")
    }`;
    const res = await f.req(`/boot.ipxe?mac=${mac}`, undefined, OTHER_IP);
    await res.body?.cancel();
  }
  assert.deepEqual(f.registry.list(), []);
});

Deno.test("hostile: the node list is for management addresses or the token; paginated", async () => {
  await using f = await makeFixture({
    apiAccess: { mode: "management", management: [[0x0a0b0200, 24]], token: "s3cret" },
  });
  for (let i = 0; i < 5; i++) {
    const mac = `52:54:00:00:01:0${i}`;
    f.leases.grant(`10.11.1.${100 + i}`, mac);
    await (await f.req(`/boot.ipxe?mac=${mac}`, undefined, `10.11.1.${100 + i}`)).text();
  }
  for (const ip of [NODE_IP, OTHER_IP]) {
    for (const path of ["/api/v1/nodes", `/api/v1/nodes/${nodeIdFor({ mac: NODE_MAC }).id}`]) {
      const res = await f.req(path, undefined, ip);
      assert.equal(res.status, 403, `${path} from ${ip}`);
      await res.body?.cancel();
    }
  }
  const bad = await f.req("/api/v1/nodes", { headers: { authorization: "Bearer nope" } });
  assert.equal(bad.status, 403);
  await bad.body?.cancel();
  const pages: string[][] = [];
  let after = "";
  for (let n = 0; n < 10; n++) {
    const res = await f.req(`/api/v1/nodes?limit=2&after=${after}`, {
      headers: { authorization: "Bearer s3cret" },
    });
    assert.equal(res.status, 200);
    const page = await res.json() as { nodes: { id: string }[]; next: string | null };
    pages.push(page.nodes.map((x) => x.id));
    if (page.next === null) break;
    after = page.next;
  }
  assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
  assert.equal(new Set(pages.flat()).size, 5);
  const mgmt = await f.req("/api/v1/nodes", undefined, "10.11.2.9");
  assert.equal(mgmt.status, 200);
  assert.equal((await mgmt.json()).nodes.length, 5);
  const big = await f.req("/api/v1/nodes?limit=100000", undefined, "127.0.0.1");
  assert.equal(big.status, 400);
  await big.body?.cancel();
});
