import assert from "node:assert/strict";
import { parseMetrics, promtoolCheck, sampleSum, sampleValue } from "../testing/prometheus.ts";
import { makeFixture, NODE_ID, NODE_MAC, NODE_UUID } from "./_app_fixture.ts";
import { bootNode, makeStatusFixture } from "./_status_fixture.ts";
import { Stage } from "./deps.ts";

const MAC_OR_IP = /([0-9a-f]{2}:){5}[0-9a-f]{2}|\b\d{1,3}(\.\d{1,3}){3}\b/i;

Deno.test("metrics: requests by route pattern and status, never by path or client", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  await (await f.req(`/apkovl/${NODE_ID}.tar.gz`)).arrayBuffer();
  await (await f.req("/apkovl/ffffffff.tar.gz", undefined, "10.11.1.99")).arrayBuffer();
  await (await f.req("/no/such/thing")).text();
  await (await f.req("/boot/vmlinuz-lts")).arrayBuffer();
  const text = await (await f.req("/metrics")).text();
  const m = parseMetrics(text);
  assert.equal(
    sampleValue(m, "mesh_http_requests_by_route_total", { route: "/boot.ipxe", status: "200" }),
    1,
  );
  // (the second one got the default overlay, which is public)
  assert.equal(
    sampleValue(m, "mesh_http_requests_by_route_total", { route: "/apkovl/:file", status: "200" }),
    2,
  );
  assert.equal(
    sampleValue(m, "mesh_http_requests_by_route_total", { route: "/*", status: "404" }),
    1,
  );
  assert.equal(sampleSum(m, "mesh_http_requests_by_route_total"), 5);
  for (const f of m) {
    for (const s of f.metrics) {
      for (const v of Object.values(s.labels ?? {})) {
        assert.doesNotMatch(v, MAC_OR_IP, `${f.name} ${v}`);
      }
    }
  }
  assert.equal(sampleValue(m, "mesh_nodes", { stage: "apkovl" }), 1); // (stages only move forward)
  assert.equal(sampleValue(m, "mesh_nodes", { stage: "online" }), 0);
});

Deno.test("metrics: boot-stage durations are a histogram, each step observed once per boot", async () => {
  const f = makeStatusFixture({
    metrics: () => [{
      name: "mesh_dhcp_received_total",
      help: "from the daemon",
      type: "counter",
      samples: [{ labels: { interface: "eth0", mode: "server" }, value: 7 }],
    }],
  });
  try {
    const t0 = Date.now() - 60_000;
    bootNode(f.registry, 1, Stage.Online, t0, { stepMs: 400 });
    bootNode(f.registry, 2, Stage.Kernel, t0, { stepMs: 2000 });
    await new Promise((r) => setTimeout(r, 0)); // the feed looks rows up in a microtask
    // a renewal later in the boot changes no step's time: nothing is observed again
    f.registry.record({
      mac: "52:54:00:00:00:01",
      stage: Stage.Dhcp,
      source: "dhcp",
      at: t0 + 30_000,
    });
    await new Promise((r) => setTimeout(r, 0));
    const text = await (await f.req("/metrics")).text();
    const m = parseMetrics(text);
    const count = (stage: string) =>
      Number(
        text.match(
          new RegExp(`^mesh_boot_stage_duration_seconds_count\\{stage="${stage}"\\} (\\d+)$`, "m"),
        )?.[1],
      );
    assert.equal(count("dhcp"), 2);
    assert.equal(count("kernel"), 2);
    assert.equal(count("online"), 1);
    assert.match(text, /^mesh_boot_stage_duration_seconds_bucket\{stage="kernel",le="2.5"\} 1$/m);
    assert.match(text, /^mesh_boot_stage_duration_seconds_sum\{stage="kernel"\} 9.6$/m);
    assert.equal(sampleValue(m, "mesh_dhcp_received_total", { interface: "eth0" }), 7);
    const check = await promtoolCheck(text);
    if (check === null) console.log("promtool not installed: its check skipped");
    else assert.equal(check.code, 0, check.output);
  } finally {
    f.close();
  }
});
