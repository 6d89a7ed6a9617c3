import assert from "node:assert/strict";
import { nodeIdFor } from "../boot/mod.ts";
import { makeFixture, NODE_ID, NODE_IP, NODE_MAC, NODE_UUID, OTHER_IP } from "./_app_fixture.ts";

async function bytes(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("apkovl: node overlay goes to the address leased to its MAC (lease policy)", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  const res = await f.req(`/apkovl/${NODE_ID}.tar.gz`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/gzip");
  assert.equal(res.headers.get("content-length"), String(f.files.nodeOverlay.length));
  assert.deepEqual(await bytes(res), f.files.nodeOverlay);
  assert.deepEqual(f.registry.stagesSeen(NODE_ID), ["script", "apkovl"]);
});

Deno.test("apkovl: other addresses are refused with 403 and counted", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  const res = await f.req(`/apkovl/${NODE_ID}.tar.gz`, undefined, OTHER_IP);
  assert.equal(res.status, 403);
  const body = await res.json();
  assert.equal(body.error, "forbidden");
  assert.ok(!f.registry.stagesSeen(NODE_ID).includes("apkovl"));
  const metrics = await (await f.req("/metrics")).text();
  assert.match(metrics, /^mesh_http_overlay_refusals_total 1$/m);
});

Deno.test("apkovl: lease policy refuses when the node's MAC is unknown", async () => {
  await using f = await makeFixture();
  // no boot script fetched, registry empty: nobody can prove to be this node
  assert.equal((await f.req(`/apkovl/${NODE_ID}.tar.gz`)).status, 403);
});

Deno.test("apkovl: Alpine {MAC} and {UUID} forms resolve to the node's overlay", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  // the node id comes from the UUID; the MAC form must still find it
  assert.deepEqual(await bytes(await f.req(`/apkovl/${NODE_MAC}.tar.gz`)), f.files.nodeOverlay);
  assert.deepEqual(
    await bytes(await f.req(`/apkovl/${NODE_UUID.toUpperCase()}.tar.gz`)),
    f.files.nodeOverlay,
  );
  // all-zero UUID: the asking address tells who it is
  assert.deepEqual(
    await bytes(await f.req("/apkovl/00000000-0000-0000-0000-000000000000.tar.gz")),
    f.files.nodeOverlay,
  );
  assert.equal(
    f.registry.stagesSeen(NODE_ID).filter((s) => s === "apkovl").length,
    3,
  );
});

Deno.test("apkovl: unknown nodes and 'default' get the default overlay from anywhere", async () => {
  await using f = await makeFixture();
  const unknown = nodeIdFor({ mac: "52:54:00:99:99:99" }).id;
  assert.deepEqual(
    await bytes(await f.req(`/apkovl/${unknown}.tar.gz`, undefined, OTHER_IP)),
    f.files.defaultOverlay,
  );
  assert.deepEqual(
    await bytes(await f.req("/apkovl/default.tar.gz", undefined, OTHER_IP)),
    f.files.defaultOverlay,
  );
  assert.deepEqual(
    await bytes(await f.req("/apkovl/52:54:00:99:99:99.tar.gz", undefined, OTHER_IP)),
    f.files.defaultOverlay,
  );
  // an address that holds no lease is no node: nothing is recorded for it
  assert.deepEqual(f.registry.list(), []);
});

Deno.test("apkovl: names that are no id, MAC or UUID are 404", async () => {
  await using f = await makeFixture();
  for (
    const p of [
      "/apkovl/../etc/passwd",
      "/apkovl/xyz.tar.gz",
      "/apkovl/1234567.tar.gz",
      `/apkovl/${NODE_ID}.tgz`,
    ]
  ) {
    const res = await f.req(p);
    assert.equal(res.status, 404, p);
    await res.body?.cancel();
  }
});

Deno.test("apkovl: no default overlay compiled -> unknown nodes get 404", async () => {
  await using f = await makeFixture({ withDefault: false });
  const res = await f.req("/apkovl/default.tar.gz");
  assert.equal(res.status, 404);
  await res.body?.cancel();
});

Deno.test("apkovl: script policy serves only the address that fetched the node's script", async () => {
  await using f = await makeFixture({ overlayAccess: "script" });
  assert.equal((await f.req(`/apkovl/${NODE_ID}.tar.gz`, undefined, "10.11.5.5")).status, 403);
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`, undefined, "10.11.5.5"))
    .text();
  assert.deepEqual(
    await bytes(await f.req(`/apkovl/${NODE_ID}.tar.gz`, undefined, "10.11.5.5")),
    f.files.nodeOverlay,
  );
  assert.equal((await f.req(`/apkovl/${NODE_ID}.tar.gz`, undefined, NODE_IP)).status, 403);
});

Deno.test("apkovl: any policy serves everyone", async () => {
  await using f = await makeFixture({ overlayAccess: "any" });
  assert.deepEqual(
    await bytes(await f.req(`/apkovl/${NODE_ID}.tar.gz`, undefined, OTHER_IP)),
    f.files.nodeOverlay,
  );
});

Deno.test("apkovl: ETag from the index, 304 on revalidation, HEAD has no body", async () => {
  await using f = await makeFixture({ overlayAccess: "any" });
  const res = await f.req(`/apkovl/${NODE_ID}.tar.gz`);
  const etag = res.headers.get("etag");
  await res.body?.cancel();
  assert.equal(etag, f.catalog.overlayFor(NODE_ID)?.etag);
  const again = await f.req(`/apkovl/${NODE_ID}.tar.gz`, { headers: { "if-none-match": etag! } });
  assert.equal(again.status, 304);
  assert.equal((await again.arrayBuffer()).byteLength, 0);
  const head = await f.req(`/apkovl/${NODE_ID}.tar.gz`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(f.files.nodeOverlay.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

Deno.test("apkovl: lease alone proves a MAC-derived node id (no boot script seen)", async () => {
  await using f = await makeFixture();
  const mac = "52:54:00:77:77:77";
  const id = nodeIdFor({ mac }).id;
  f.catalog.overlays.set(id, f.catalog.overlayFor(NODE_ID)!);
  f.leases.grant("10.11.1.77", mac);
  assert.deepEqual(
    await bytes(await f.req(`/apkovl/${id}.tar.gz`, undefined, "10.11.1.77")),
    f.files.nodeOverlay,
  );
  assert.equal((await f.req(`/apkovl/${id}.tar.gz`, undefined, OTHER_IP)).status, 403);
});
