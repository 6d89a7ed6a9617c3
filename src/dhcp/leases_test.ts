import assert from "node:assert/strict";
import { committing } from "./_test_commit.ts";
import fc from "fast-check";
import { parseCidr, parseIpv4 } from "../wire/mod.ts";
import {
  clientKey,
  type LeaseChange,
  type LeaseClient,
  LeasePool,
  type PoolConfig,
} from "./mod.ts";

const config: PoolConfig = {
  segment: "lan0",
  subnet: parseCidr("10.0.0.0/24"),
  rangeStart: parseIpv4("10.0.0.10"),
  rangeEnd: parseIpv4("10.0.0.15"),
  excluded: [parseIpv4("10.0.0.12")],
  reservations: [{ mac: "52:54:00:00:00:07", ip: parseIpv4("10.0.0.100") }],
};
const client = (i: number): LeaseClient => ({
  mac: `52:54:00:00:00:0${i}`,
  clientId: i % 3 === 0 ? `01525400${i}` : null,
  nodeIds: [],
  hostname: null,
});

const op = fc.oneof(
  fc.record({ kind: fc.constant("allocate" as const), c: fc.nat(7), req: fc.option(fc.nat(20)) }),
  fc.record({
    kind: fc.constant("bind" as const),
    c: fc.nat(7),
    ip: fc.integer({ min: 8, max: 16 }),
  }),
  fc.record({
    kind: fc.constant("release" as const),
    c: fc.nat(7),
    ip: fc.integer({ min: 8, max: 16 }),
  }),
  fc.record({
    kind: fc.constant("decline" as const),
    c: fc.nat(7),
    ip: fc.integer({ min: 8, max: 16 }),
  }),
  fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 200_000 }) }),
);

Deno.test("LeasePool never binds one address to two clients, and restore() rebuilds it", () => {
  let binds = 0;
  fc.assert(
    fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
      const pool = committing(
        new LeasePool({
          ...config,
          offerTimeoutMs: 30_000,
          declineQuarantineMs: 100_000,
        }),
      );
      const persisted = new Map<number, LeaseChange>();
      const commit = (cs: readonly LeaseChange[]) => cs.forEach((c) => persisted.set(c.ip, c));
      let now = 1_000_000;
      const leaseMs = 60_000;
      for (const o of ops) {
        const base = parseIpv4("10.0.0.0");
        switch (o.kind) {
          case "allocate": {
            const a = pool.allocate(client(o.c), o.req === null ? undefined : base + o.req, now);
            if (a !== null && (o.req === null || o.req % 2 === 0)) {
              // Half of the clients go on to REQUEST what they were offered.
              const r = pool.bind(client(o.c), a.ip, now, leaseMs);
              assert.ok(r.ok, "offered address could not be bound");
              binds++;
              commit(r.changes);
            }
            if (a !== null) {
              assert.ok(a.ip !== parseIpv4("10.0.0.12"), "excluded address offered");
              assert.ok(pool.refusal(client(o.c), a.ip, now) === null, "offered a refused address");
            }
            break;
          }
          case "bind": {
            const prev = pool.lease(base + o.ip);
            const r = pool.bind(client(o.c), base + o.ip, now, leaseMs);
            if (r.ok) {
              binds++;
              commit(r.changes);
              const stolen = prev !== undefined && prev.expiresAt > now &&
                (prev.state === "bound" || prev.state === "declined") &&
                clientKey(prev) !== clientKey(client(o.c));
              assert.ok(!stolen, `bound ${o.ip} while ${prev?.state} for ${prev?.mac}`);
            }
            break;
          }
          case "release": {
            const c = pool.release(client(o.c), base + o.ip, now);
            if (c) commit([c]);
            break;
          }
          case "decline": {
            const c = pool.decline(client(o.c), base + o.ip, now);
            if (c) commit([c]);
            break;
          }
          case "wait":
            now += o.ms;
        }
        // Invariant: each client holds at most one live lease and each address one holder.
        const holders = new Map<string, number>();
        for (const row of pool.rows()) {
          if (row.state !== "bound" || row.expiresAt <= now) continue;
          const k = clientKey(row);
          assert.ok(!holders.has(k), `${k} holds two live leases`);
          holders.set(k, row.ip);
          assert.ok(row.ip !== parseIpv4("10.0.0.100") || row.mac === "52:54:00:00:00:07");
        }
      }
      // Everything the pool knows was returned as a change, and a restart rebuilds it.
      assert.deepEqual(pool.rows(), [...persisted.values()].sort((a, b) => a.ip - b.ip));
      const restored = LeasePool.restore(config, persisted.values());
      assert.deepEqual(restored.rows(), pool.rows());
      // Every client with a bound lease gets that lease back after a restart. (Which older,
      // released address a client is remembered by after a DECLINE may differ.)
      for (let i = 0; i < 8; i++) {
        const live = pool.leaseOf(client(i));
        if (live?.state !== "bound") continue;
        assert.equal(restored.leaseOf(client(i))?.ip, live.ip, `client ${i}`);
      }
    }),
    { numRuns: 300 },
  );
  assert.ok(binds > 150, `only ${binds} successful binds: the property was not exercised`);
});

Deno.test("LeasePool.allocate() holds an offer for its client until it lapses", () => {
  const pool = committing(new LeasePool({ ...config, offerTimeoutMs: 30_000 }));
  const a = pool.allocate(client(1), undefined, 0)!;
  assert.deepEqual(a, { ip: parseIpv4("10.0.0.10"), source: "fresh", probe: true });
  assert.equal(pool.allocate(client(1), undefined, 1_000)?.source, "offer");
  assert.equal(pool.allocate(client(2), undefined, 1_000)?.ip, parseIpv4("10.0.0.11"));
  // After the offer lapses the never-used address goes back to the lowest-first list.
  assert.equal(pool.allocate(client(4), undefined, 40_000)?.ip, parseIpv4("10.0.0.10"));
});

Deno.test("LeasePool.counts() reports bound, offered and free addresses", () => {
  const pool = committing(new LeasePool(config));
  pool.allocate(client(1), undefined, 0);
  const b = pool.bind(client(2), parseIpv4("10.0.0.11"), 0, 60_000);
  assert.ok(b.ok);
  assert.deepEqual(pool.counts(1), { bound: 1, declined: 0, offered: 1, free: 3 });
});

Deno.test("LeasePool.upcomingFresh() names the never-used addresses the next OFFERs get, without taking them", () => {
  const pool = committing(new LeasePool(config));
  const ip = (s: string) => parseIpv4(s);
  // 10.0.0.12 is excluded; nothing is handed out by peeking.
  assert.deepEqual(pool.upcomingFresh(3), [ip("10.0.0.10"), ip("10.0.0.11"), ip("10.0.0.13")]);
  assert.deepEqual(pool.upcomingFresh(3), [ip("10.0.0.10"), ip("10.0.0.11"), ip("10.0.0.13")]);
  assert.equal(pool.allocate(client(1), undefined, 0)?.ip, ip("10.0.0.10"));
  pool.bind(client(2), ip("10.0.0.13"), 0, 60_000);
  assert.deepEqual(pool.upcomingFresh(10), [ip("10.0.0.11"), ip("10.0.0.14"), ip("10.0.0.15")]);
  assert.equal(
    pool.allocate(client(3), undefined, 0)?.ip,
    ip("10.0.0.11"),
    "the first upcoming is the next offer",
  );
});

Deno.test("LeasePool stages decided rows: later decisions see them, rows() only once applied, discard forgets them", () => {
  const pool = new LeasePool(config);
  const ip = parseIpv4("10.0.0.11");
  const b = pool.bind(client(2), ip, 0, 60_000);
  assert.ok(b.ok);
  // Decided, not committed: the pool's rows are unchanged ...
  assert.deepEqual(pool.rows(), []);
  assert.equal(pool.stagedCount, 1);
  // ... but the next decision of the same group sees the address taken.
  assert.deepEqual(pool.bind(client(3), ip, 1, 60_000), {
    ok: false,
    reason: "in use by another client",
  });
  assert.equal(pool.leaseOf(client(2))?.ip, ip);
  // The commit failed: memory forgets the row, as the database never had it.
  pool.discard(b.changes);
  assert.equal(pool.stagedCount, 0);
  assert.equal(pool.lease(ip), undefined);
  assert.equal(pool.leaseOf(client(2)), undefined);
  const again = pool.bind(client(3), ip, 2, 60_000);
  assert.ok(again.ok);
  // The commit succeeded: the row is the pool's.
  pool.apply(again.changes);
  assert.equal(pool.stagedCount, 0);
  assert.deepEqual(pool.rows().map((r) => [r.ip, r.mac]), [[ip, client(3).mac]]);
  // A decline staged and discarded leaves the binding as it was.
  const d = pool.decline(client(3), ip, 3)!;
  assert.equal(pool.leaseOf(client(3)), undefined, "the decliner's address is gone while staged");
  pool.discard([d]);
  assert.equal(pool.leaseOf(client(3))?.ip, ip);
});
