import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { makeFixture, NODE_ID, NODE_IP, NODE_MAC, NODE_UUID } from "./_app_fixture.ts";

Deno.test("api: nodes list and detail follow the boot; unknown id is JSON 404", async () => {
  await using f = await makeFixture();
  const admin = "127.0.0.1";
  assert.deepEqual(await (await f.req("/api/v1/nodes", undefined, admin)).json(), {
    nodes: [],
    next: null,
  });
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  await (await f.req("/boot/vmlinuz-lts")).arrayBuffer();
  const list = (await (await f.req("/api/v1/nodes", undefined, admin)).json()).nodes;
  assert.equal(list.length, 1);
  assert.equal(list[0].id, NODE_ID);
  assert.equal(list[0].stage, "kernel");
  assert.equal(list[0].machine, "web-01");
  assert.equal(typeof list[0].stages.script, "number");
  const detail = await f.req(`/api/v1/nodes/${NODE_ID}`, undefined, admin);
  assert.equal(detail.headers.get("content-type"), "application/json");
  const d = await detail.json();
  assert.deepEqual(d.events.map((e: { stage: string }) => e.stage), ["script", "kernel"]);
  const missing = await f.req("/api/v1/nodes/ffffffff", undefined, admin);
  assert.equal(missing.status, 404);
  assert.deepEqual(await missing.json(), { error: "node not found", id: "ffffffff" });
});

Deno.test("api: healthz and metrics", async () => {
  await using f = await makeFixture();
  const h = await f.req("/healthz");
  assert.equal(h.status, 200);
  assert.equal(await h.text(), "ok\n");
  await (await f.req("/nope")).text();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}`)).text();
  const m = await (await f.req("/metrics")).text();
  assert.match(m, /^mesh_http_requests_total 3$/m);
  assert.match(m, /^mesh_http_not_found_total 1$/m);
  assert.match(m, /^mesh_http_boot_scripts_total 1$/m);
});

Deno.test("access log: one structured line per request, with node id when known", async () => {
  const records: LogRecord[] = [];
  await configure({
    sinks: { mem: (r) => records.push(r) },
    loggers: [
      { category: ["mesh", "http"], sinks: ["mem"], lowestLevel: "debug" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
    reset: true,
  });
  try {
    await using f = await makeFixture();
    await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
    await (await f.req("/boot/vmlinuz-lts", { headers: { range: "bytes=0-99" } })).arrayBuffer();
    await (await f.req("/boot/missing")).text();
    const lines = records.filter((r) => r.rawMessage === "request").map((r) => r.properties);
    assert.equal(lines.length, 3);
    assert.deepEqual(
      lines.map((p) => [p.method, p.path, p.status, p.bytes, p.ip, p.nodeId]),
      [
        ["GET", "/boot.ipxe", 200, Number(lines[0]!.bytes), NODE_IP, NODE_ID],
        ["GET", "/boot/vmlinuz-lts", 206, 100, NODE_IP, NODE_ID],
        ["GET", "/boot/missing", 404, Number(lines[2]!.bytes), NODE_IP, null],
      ],
    );
    assert.ok(Number(lines[0]!.bytes) > 100);
    assert.equal(typeof lines[1]!.ms, "number");
  } finally {
    await reset();
  }
});

Deno.test("api: a node reports online by id (GET or POST); a bad id is 400", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  const r = await f.req(`/api/v1/report/online?id=${NODE_ID}`);
  assert.equal(r.status, 204);
  const p = await f.req(`/api/v1/report/online?id=${NODE_ID}`, { method: "POST" });
  assert.equal(p.status, 204);
  const node = await (await f.req(`/api/v1/nodes/${NODE_ID}`, undefined, "127.0.0.1")).json();
  assert.equal(node.stage, "online");
  for (const bad of ["", "XYZ", "0123456789", "DEADBEEF"]) {
    const b = await f.req(`/api/v1/report/online?id=${bad}`);
    assert.equal(b.status, 400, bad);
    await b.body?.cancel();
  }
});
