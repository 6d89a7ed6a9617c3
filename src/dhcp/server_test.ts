import assert from "node:assert/strict";
import { macToBytes, parseIpv4 } from "../wire/mod.ts";
import type { PoolExhaustion } from "./authoritative.ts";
import {
  ClientBudget,
  DEFAULT_CLIENT_BUDGET,
  ExhaustionNotices,
  knownFirst,
  macKey,
} from "./server.ts";

const A = macKey(macToBytes("02:00:00:00:00:0a"));
const B = macKey(macToBytes("02:00:00:00:00:0b"));

/** How many of `n` requests at `at` the bucket lets through. */
function takeMany(b: ClientBudget, key: number, n: number, at: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (b.take(key, at)) ok++;
  return ok;
}

Deno.test("ClientBudget: a burst, then the refill rate, per MAC", () => {
  const b = new ClientBudget({ perSecond: 10, burst: 20, maxClients: 100 });
  assert.equal(takeMany(b, A, 50, 0), 20, "a new MAC starts with a full bucket");
  assert.equal(b.take(A, 0), false);
  // Another MAC has its own bucket.
  assert.equal(takeMany(b, B, 5, 0), 5);
  // 10 per second: one request every 100 ms, nothing in between.
  assert.equal(b.take(A, 99), false);
  assert.equal(b.take(A, 100), true);
  assert.equal(b.take(A, 100), false);
  assert.equal(takeMany(b, A, 50, 1100), 10, "one second later: ten more");
  // Idle for long: refilled up to the burst, not beyond.
  assert.equal(takeMany(b, A, 50, 60_000), 20);
});

Deno.test("ClientBudget: a steady sender under the rate is never refused; over it, held to it", () => {
  const b = new ClientBudget({ perSecond: 10, burst: 20, maxClients: 100 });
  // 8 per second for a minute.
  let refused = 0;
  for (let t = 0; t < 60_000; t += 125) if (!b.take(A, t)) refused++;
  assert.equal(refused, 0);
  // 1,000 per second for 10 s: the burst plus 10 per second get through.
  const c = new ClientBudget({ perSecond: 10, burst: 20, maxClients: 100 });
  let ok = 0;
  for (let t = 0; t < 10_000; t++) if (c.take(B, t)) ok++;
  assert.ok(ok >= 20 + 99 && ok <= 20 + 100, String(ok));
});

Deno.test("ClientBudget: a clock that goes back refills nothing", () => {
  const b = new ClientBudget({ perSecond: 10, burst: 2, maxClients: 10 });
  assert.equal(takeMany(b, A, 3, 5000), 2);
  assert.equal(b.take(A, 1000), false);
  // Measured from the earlier time now: 100 ms after it, one more.
  assert.equal(b.take(A, 1100), true);
});

Deno.test("ClientBudget: the table is bounded and keeps the recently seen MACs", () => {
  // Two generations of two MACs each.
  const b = new ClientBudget({ perSecond: 1, burst: 1, maxClients: 4 });
  const [k1, k2, k3, k4] = [1, 2, 3, 4].map((i) => macKey(macToBytes(`02:00:00:00:01:0${i}`)));
  for (const k of [k1!, k2!, k3!]) assert.equal(b.take(k, 0), true);
  // k1 is seen again (refused: its bucket is empty), so it is among the recent ones.
  assert.equal(b.take(k1!, 0), false);
  // A new MAC: k2, seen least recently, is forgotten and comes back with a full
  // bucket (which costs one burst); k1 is still held to its budget.
  assert.equal(b.take(k4!, 0), true);
  assert.equal(b.take(k2!, 0), true, "forgotten, back with a full bucket");
  assert.equal(b.take(k1!, 0), false, "remembered");
  // A flood of new MACs: the table stays within its bound, and a MAC that keeps
  // sending through the flood stays held to its budget.
  let hammer = 0;
  for (let i = 0; i < 10_000; i++) {
    b.take(1000 + i, 0);
    if (b.take(k1!, 0)) hammer++;
    assert.ok(b.size <= 4);
  }
  assert.equal(hammer, 0);
});

Deno.test("ClientBudget: refuses settings that would block everyone", () => {
  assert.throws(() => new ClientBudget({ perSecond: 0, burst: 20, maxClients: 2 }), RangeError);
  assert.throws(() => new ClientBudget({ perSecond: 10, burst: 0.5, maxClients: 2 }), RangeError);
  assert.throws(() => new ClientBudget({ perSecond: 10, burst: 20, maxClients: 1 }), RangeError);
});

Deno.test("ClientBudget default: perfdhcp's per-MAC load at the bench's top rate passes", () => {
  // bench/dhcp.ts: -R 4000 MACs, up to 28,000 DORA/s offered; perfdhcp spreads its
  // exchanges evenly over the MACs: 7 DORA (14 requests) per MAC per second, the
  // busiest MAC 1.2 times that. Its share for 60 s, each REQUEST 1 ms after its DISCOVER.
  const b = new ClientBudget(DEFAULT_CLIENT_BUDGET);
  let refused = 0;
  for (let t = 0; t < 60_000; t += 1000 / (7 * 1.2)) {
    if (!b.take(A, t)) refused++;
    if (!b.take(A, t + 1)) refused++;
  }
  assert.equal(refused, 0);
  // A MAC that hammers gets the budget and no more.
  const c = new ClientBudget(DEFAULT_CLIENT_BUDGET);
  let ok = 0;
  for (let t = 0; t < 10_000; t += 0.1) if (c.take(B, t)) ok++;
  assert.ok(
    ok <= DEFAULT_CLIENT_BUDGET.burst + 10 * DEFAULT_CLIENT_BUDGET.perSecond + 1,
    String(ok),
  );
});

Deno.test("macKey: the six chaddr bytes as a distinct number", () => {
  assert.equal(macKey(macToBytes("00:00:00:00:00:01")), 1);
  assert.equal(macKey(macToBytes("ff:ff:ff:ff:ff:ff")), 2 ** 48 - 1);
  assert.equal(macKey(macToBytes("80:00:00:00:00:00")), 2 ** 47);
  assert.notEqual(macKey(macToBytes("00:00:00:01:00:00")), macKey(macToBytes("00:01:00:00:00:00")));
  // Only the first six bytes count (chaddr is 16 bytes, padded).
  const chaddr = new Uint8Array(16);
  chaddr.set(macToBytes("02:00:00:00:00:0a"));
  chaddr[6] = 0xff;
  assert.equal(macKey(chaddr), A);
});

const LAN: PoolExhaustion = {
  segment: "lan0",
  rangeStart: parseIpv4("10.0.0.10"),
  rangeEnd: parseIpv4("10.0.0.19"),
};
const RELAY: PoolExhaustion = { ...LAN, segment: "relay-net" };

Deno.test("ExhaustionNotices: one line per pool per minute, with what was held back", () => {
  const n = new ExhaustionNotices(60_000);
  const T = 1_700_000_000_000;
  assert.deepEqual(n.note(LAN, T), { pool: LAN, unanswered: 1 }, "the first one is told at once");
  for (let i = 1; i <= 4999; i++) assert.equal(n.note(LAN, T + i), null);
  // Another pool has its own minute.
  assert.deepEqual(n.note(RELAY, T + 10), { pool: RELAY, unanswered: 1 });
  assert.deepEqual(n.due(T + 59_999), [], "not before the minute is over");
  assert.deepEqual(n.due(T + 60_000), [{ pool: LAN, unanswered: 4999, sinceMs: 60_000 }]);
  assert.deepEqual(n.due(T + 120_000), [], "nothing held back: no line");
  // After a quiet spell, the next one is told at once again.
  assert.deepEqual(n.note(LAN, T + 200_000), { pool: LAN, unanswered: 1, sinceMs: 140_000 });
  assert.equal(n.note(LAN, T + 200_001), null);
  // A note after the minute carries the held-back ones with it.
  assert.deepEqual(n.note(LAN, T + 260_000), { pool: LAN, unanswered: 2, sinceMs: 60_000 });
});

Deno.test("ExhaustionNotices: a busy minute gives exactly one line per pool", () => {
  const n = new ExhaustionNotices(60_000);
  let lines = 0;
  let told = 0;
  for (let t = 0; t < 60_000; t += 3) {
    const l = n.note(LAN, t);
    if (l !== null) {
      lines++;
      told += l.unanswered;
    }
    if (t % 250 === 0) {
      for (const d of n.due(t)) {
        lines++;
        told += d.unanswered;
      }
    }
  }
  assert.equal(lines, 1);
  const last = n.due(60_000);
  assert.equal(last.length, 1);
  assert.equal(told + last[0]!.unanswered, 20_000, "every unanswered request is told once");
});

Deno.test("knownFirst: known items first, both parts in order; untouched when nothing moves", () => {
  const items = [1, 2, 3, 4, 5, 6];
  const even = (n: number) => n % 2 === 0;
  assert.deepEqual(knownFirst(items, even), [2, 4, 6, 1, 3, 5]);
  const sorted = [2, 4, 1, 3];
  assert.equal(knownFirst(sorted, even), sorted, "already in order: the same array");
  assert.equal(knownFirst(items, () => false), items);
  assert.equal(knownFirst(items, () => true), items);
  assert.deepEqual(knownFirst([], even), []);
});
