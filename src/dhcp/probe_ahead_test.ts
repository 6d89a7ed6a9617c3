import assert from "node:assert/strict";
import { ProbeAhead } from "./probe_ahead.ts";

/** A probe stand-in: answers every address after `delayMs`, in use when listed in `taken`. */
function fakeProbe(taken: ReadonlySet<number>, delayMs = 5) {
  const cache = new Map<number, boolean>();
  const asked: number[] = [];
  return {
    asked,
    cached: (ip: number) => cache.get(ip),
    inUse(ip: number): Promise<boolean> {
      asked.push(ip);
      return new Promise((resolve) =>
        setTimeout(() => {
          cache.set(ip, taken.has(ip));
          resolve(taken.has(ip));
        }, delayMs)
      );
    },
  };
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("ProbeAhead probes the next 64 addresses when quiet, and quarantines one in use", async () => {
  const probe = fakeProbe(new Set([103]));
  const inUse: number[] = [];
  const ahead = new ProbeAhead({
    segments: [{ segment: "lan", probe, covers: () => true }],
    upcoming: (_s, n) => Array.from({ length: n }, (_, i) => 100 + i),
    onInUse: (_s, ip) => inUse.push(ip),
    everyMs: 60_000,
  });
  await settle(50);
  ahead.close();
  assert.deepEqual(probe.asked, Array.from({ length: 64 }, (_, i) => 100 + i));
  assert.deepEqual(inUse, [103]);
});

Deno.test("ProbeAhead widens its window with the fresh offers of the last seconds, up to 1024", async () => {
  const probe = fakeProbe(new Set());
  let next = 100; // the pool's next fresh address; each offer takes one
  const ahead = new ProbeAhead({
    segments: [{ segment: "lan", probe, covers: () => true }],
    upcoming: (_s, n) => Array.from({ length: n }, (_, i) => next + i),
    onInUse: () => {},
    everyMs: 60_000,
  });
  await settle(30);
  for (let i = 0; i < 20; i++) {
    next++;
    ahead.noteFreshOffer();
  }
  await settle(100);
  // 20 offers: 80 ahead of the pool's cursor are known.
  assert.ok(probe.asked.includes(next + 79), `window: ${Math.max(...probe.asked) - next + 1}`);
  for (let i = 0; i < 400; i++) {
    next++;
    ahead.noteFreshOffer();
  }
  await settle(100);
  ahead.close();
  const reach = Math.max(...probe.asked) - next + 1;
  assert.equal(reach, 1024, "bounded at 1024 however many new machines arrive");
  // Never the same address twice: cached and in-flight ones are skipped.
  assert.equal(new Set(probe.asked).size, probe.asked.length);
});

Deno.test("ProbeAhead skips addresses off the probe's link", async () => {
  const probe = fakeProbe(new Set());
  const ahead = new ProbeAhead({
    segments: [{ segment: "relayed", probe, covers: (ip) => ip % 2 === 0 }],
    upcoming: (_s, n) => Array.from({ length: n }, (_, i) => 200 + i),
    onInUse: () => {},
    everyMs: 60_000,
  });
  await settle(30);
  ahead.close();
  assert.deepEqual(probe.asked, Array.from({ length: 32 }, (_, i) => 200 + 2 * i));
});
