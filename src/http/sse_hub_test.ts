import assert from "node:assert/strict";
import { SseHub } from "./sse_hub.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readText(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const r = await reader.read();
  return r.done ? "" : new TextDecoder().decode(r.value);
}

Deno.test("sse hub: streams are capped; the cap frees up as clients go", async () => {
  const hub = new SseHub({ maxClients: 2 });
  const a = hub.open()!, b = hub.open()!;
  assert.equal(hub.open(), null);
  assert.equal(hub.counters.refused, 1);
  await a.cancel();
  assert.equal(hub.clients, 1);
  const c = hub.open();
  assert.ok(c);
  hub.close();
  assert.equal(hub.clients, 0);
  assert.equal(hub.open(), null, "a closed hub opens nothing");
  for (const s of [b, c]) assert.equal((await s.getReader().read()).done, false); // the greeting is still there
});

Deno.test("sse hub: changes are coalesced per node between flushes", async () => {
  const hub = new SseHub({ flushMs: 20 });
  const reader = hub.open()!.getReader();
  assert.match(await readText(reader), /^: mesh live stream/);
  hub.publish("aaaa", '{"stage":"dhcp"}');
  hub.publish("aaaa", '{"stage":"firmware"}');
  hub.publish("bbbb", '{"stage":"kernel"}');
  const text = await readText(reader);
  const data = [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(data, ['{"stage":"firmware"}', '{"stage":"kernel"}']);
  assert.equal(hub.counters.messages, 2);
  hub.close();
  assert.equal((await reader.read()).done, true);
});

Deno.test("sse hub: a client that does not read is dropped, the others go on", async () => {
  const hub = new SseHub({ flushMs: 5, maxQueuedBytes: 4096 });
  const slow = hub.open()!.getReader(); // never read after this
  const fast = hub.open()!.getReader();
  await readText(fast);
  const big = JSON.stringify({ pad: "x".repeat(1500) });
  for (let i = 0; i < 6 && hub.clients === 2; i++) {
    hub.publish(`n${i}`, big);
    await tick(15);
    await readText(fast);
  }
  assert.equal(hub.counters.dropped, 1);
  assert.equal(hub.clients, 1);
  await assert.rejects(async () => {
    for (;;) if ((await slow.read()).done) break;
  }, /too slow/);
  hub.publish("after", "{}");
  assert.match(await readText(fast), /data: \{\}/);
  hub.close();
});
