import assert from "node:assert/strict";
import { nodeIdFor } from "../boot/mod.ts";
import {
  bootNode,
  fixtureMac,
  fixtureSegments,
  HOSTILE,
  makeStatusFixture,
  seedNodes,
} from "./_status_fixture.ts";
import { Stage } from "./deps.ts";
import { parseTableQuery, selectRows } from "./node_table.ts";
import { STATUS_JS_HASH } from "./status_assets.ts";
import { nodeRow, segmentView, timeline } from "./status_view.ts";
import { clip, layoutBands } from "./topology_svg.tsx";

const T0 = 1_700_000_000_000;
const clock = () => T0 + 60_000;

Deno.test("status view: the timeline has each step's duration, skipped and current steps", () => {
  const steps = timeline(
    { discovered: T0, dhcp: T0 + 400, script: T0 + 1400, kernel: T0 + 5400 },
    T0 + 9400,
  );
  assert.deepEqual(steps.map((s) => [s.stage, s.state, s.ms]), [
    ["dhcp", "done", 400],
    ["firmware", "skipped", null],
    ["script", "done", 1000],
    ["kernel", "done", 4000],
    ["initrd", "current", 4000],
    ["apkovl", "todo", null],
    ["online", "todo", null],
  ]);
  // nothing before the first step seen: its duration is unknown, not zero
  assert.equal(timeline({ script: T0 }, T0)[2]!.ms, null);
});

Deno.test("status view: stored segments are read defensively; nodes land in their subnet", () => {
  const segs = [...fixtureSegments(), null, 7, { id: 3 }, { id: "bare" }].flatMap((r) =>
    segmentView(r) ?? []
  );
  assert.deepEqual(segs.map((s) => s.id), ["lab", "office", "spare", "bare"]);
  assert.equal(segs[1]!.servers[0]!.id, "192.168.1.1");
  assert.deepEqual(segs[3]!.interfaces, []);
  const n = {
    id: "0a1b2c3d",
    mac: null,
    uuid: null,
    ip: "192.168.1.7",
    machine: null,
    stage: Stage.Kernel,
  };
  const row = nodeRow({ ...n, firstSeen: T0, lastSeen: T0, stages: {} }, segs, T0);
  assert.equal(row.segment, "office");
  assert.equal(
    nodeRow({ ...n, ip: "172.16.0.1", firstSeen: 0, lastSeen: 0, stages: {} }, segs, T0).segment,
    null,
  );
});

Deno.test("status table: filter and sort from the query string", () => {
  const segs = fixtureSegments().flatMap((r) => segmentView(r) ?? []);
  const base = { uuid: null, machine: null, firstSeen: T0, stages: {} };
  const rows = [
    {
      id: "aaaaaaaa",
      mac: "52:54:00:00:00:01",
      ip: "10.11.1.20",
      stage: Stage.Online,
      lastSeen: T0 + 3,
    },
    {
      id: "bbbbbbbb",
      mac: "52:54:00:00:00:02",
      ip: "10.11.1.3",
      stage: Stage.Kernel,
      lastSeen: T0 + 9,
    },
    { id: null, mac: "52:54:00:00:00:03", ip: "192.168.1.9", stage: Stage.Dhcp, lastSeen: T0 + 1 },
  ].map((r) => nodeRow({ ...base, ...r }, segs, T0));
  const pick = (qs: string) => {
    const p = new URLSearchParams(qs);
    return selectRows(rows, parseTableQuery((k) => p.get(k) ?? undefined)).rows.map((r) => r.key);
  };
  assert.deepEqual(pick(""), ["bbbbbbbb", "aaaaaaaa", "52:54:00:00:00:03"]); // newest first
  assert.deepEqual(pick("sort=ip"), ["bbbbbbbb", "aaaaaaaa", "52:54:00:00:00:03"]);
  assert.deepEqual(pick("sort=ip&dir=desc"), ["52:54:00:00:00:03", "aaaaaaaa", "bbbbbbbb"]);
  assert.deepEqual(pick("sort=stage"), ["52:54:00:00:00:03", "bbbbbbbb", "aaaaaaaa"]);
  assert.deepEqual(pick("stage=online"), ["aaaaaaaa"]);
  assert.deepEqual(pick("segment=office"), ["52:54:00:00:00:03"]);
  assert.deepEqual(pick("q=00:02"), ["bbbbbbbb"]);
  assert.deepEqual(pick("sort=nonsense&stage=nonsense&limit=-1"), pick(""));
  assert.deepEqual(pick("limit=1"), ["bbbbbbbb"]);
});

Deno.test("status page: nodes, topology and a timeline, without JavaScript", async () => {
  const f = makeStatusFixture({ clock });
  try {
    seedNodes(f.registry, 30, T0);
    const r = await f.req("/");
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(
      r.headers.get("content-security-policy")!,
      new RegExp(`script-src ${STATUS_JS_HASH.replace(/[+/]/g, "\\$&")}`),
    );
    const html = await r.text();
    assert.equal((html.match(/<tr id="n-/g) ?? []).length, 30);
    assert.ok(!html.includes(" key="), "JSX keys are not rendered");
    for (const id of ["lab", "office", "spare"]) {
      assert.match(html, new RegExp(`<g class="segment [^"]*" data-segment="${id}">`));
    }
    assert.match(html, /DHCP 192\.168\.1\.1/);
    assert.match(html, /<section id="timeline" data-key="[0-9a-f]{8}">/);
    // ?node= picks the timeline; filters are query parameters
    // (by MAC as well as by id: node 3 has identified, so its key is its id)
    const one = await (await f.req(`/?stage=kernel&node=${fixtureMac(3)}`)).text();
    assert.match(
      one,
      new RegExp(`<section id="timeline" data-key="${nodeIdFor({ mac: fixtureMac(3) }).id}">`),
    );
    const stages = [...one.matchAll(/<tr id="n-[^"]*" data-stage="([a-z]+)"/g)].map((m) => m[1]);
    assert.ok(stages.length === 4 && stages.every((s) => s === "kernel"), stages.join());
  } finally {
    f.close();
  }
});

Deno.test("status page: a node, machine or segment called <script> is text, not markup", async () => {
  const f = makeStatusFixture({
    clock,
    segments: [...fixtureSegments(), {
      ...fixtureSegments()[0] as object,
      id: HOSTILE,
      interfaces: [HOSTILE],
    }],
  });
  try {
    bootNode(f.registry, 0, Stage.Kernel, T0, { machine: HOSTILE });
    const html = await (await f.req(
      `/?q=${encodeURIComponent(HOSTILE)}&segment=${encodeURIComponent(HOSTILE)}`,
    )).text();
    // exactly one script element: ours
    assert.equal(html.match(/<script/gi)?.length, 1);
    assert.ok(!html.includes(HOSTILE));
    assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  } finally {
    f.close();
  }
});

Deno.test("status page: http.status_page on, token and off", async () => {
  const token = "0123456789abcdef0123";
  const on = makeStatusFixture({
    apiAccess: { mode: "management", management: [[0x0a090000, 16]], token },
  });
  const tok = makeStatusFixture({
    statusPage: "token",
    apiAccess: { mode: "any", management: [], token },
  });
  const off = makeStatusFixture({ statusPage: "off" });
  try {
    assert.equal((await on.req("/", undefined, "10.9.1.1")).status, 200);
    assert.equal((await on.req("/", undefined, "10.11.1.20")).status, 403);
    assert.equal((await on.req("/api/v1/events/stream", undefined, "10.11.1.20")).status, 403);
    const bearer = { headers: { authorization: `Bearer ${token}` } };
    assert.equal((await on.req("/", bearer, "10.11.1.20")).status, 200);
    // token: loopback is not enough, the bearer token or its cookie is
    assert.equal((await tok.req("/")).status, 403);
    assert.equal((await tok.req("/", bearer)).status, 200);
    assert.equal((await tok.req("/?token=wrong")).status, 403);
    const login = await tok.req(`/?token=${token}&sort=ip`);
    assert.equal(login.status, 303);
    assert.equal(login.headers.get("location"), "/?sort=ip");
    const cookie = login.headers.get("set-cookie")!;
    assert.match(cookie, /HttpOnly; SameSite=Strict/);
    const withCookie = { headers: { cookie: cookie.split(";")[0]! } };
    assert.equal((await tok.req("/", withCookie, "10.99.0.1")).status, 200);
    const s = await tok.req("/api/v1/events/stream", withCookie, "10.99.0.1");
    assert.equal(s.status, 200);
    await s.body!.cancel();
    assert.equal((await off.req("/")).status, 404);
    assert.equal((await off.req("/api/v1/events/stream")).status, 404);
    assert.match(await (await on.req("/metrics")).text(), /^mesh_http_status_refusals_total 2$/m);
  } finally {
    for (const f of [on, tok, off]) f.close();
  }
});

Deno.test("status page: a stage change arrives on the live stream", async () => {
  const f = makeStatusFixture();
  try {
    const id = bootNode(f.registry, 5, Stage.Script, Date.now() - 5000);
    const r = await f.req("/api/v1/events/stream");
    assert.equal(r.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    assert.match((await reader.read()).value!, /^: mesh live stream\nretry: \d+\n\n$/);
    f.registry.record({ nodeId: id, stage: Stage.Kernel, source: "http", at: Date.now() });
    const msg = (await reader.read()).value!;
    const m = /^id: \d+\nevent: node\ndata: (.*)\n\n$/.exec(msg);
    assert.ok(m, msg);
    const row = JSON.parse(m[1]!);
    assert.equal(row.key, id);
    assert.equal(row.stage, "kernel");
    assert.equal(row.segment, "lab");
    assert.equal(row.steps[3].state, "done");
    await reader.cancel();
  } finally {
    f.close();
  }
});

Deno.test("topology: bands fit their ports and servers; long text is clipped", () => {
  const segs = fixtureSegments().flatMap((r) => segmentView(r) ?? []);
  const { bands, height } = layoutBands(segs);
  assert.equal(bands.length, 3);
  for (let i = 1; i < bands.length; i++) {
    assert.ok(bands[i]!.y >= bands[i - 1]!.y + bands[i - 1]!.height);
  }
  assert.ok(height >= bands.at(-1)!.y + bands.at(-1)!.height);
  assert.equal(clip("abcdef", 4), "abc…");
  assert.equal(clip("abc", 4), "abc");
});
