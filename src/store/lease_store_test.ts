import assert from "node:assert/strict";
import { openStore } from "./mod.ts";
import { type LeaseRow, LeaseStore } from "./lease_store.ts";

function row(ip: number, mac: string, over: Partial<LeaseRow> = {}): LeaseRow {
  return {
    ip,
    mac,
    clientId: null,
    nodeId: null,
    hostname: null,
    state: "bound",
    startsAt: 1000,
    expiresAt: 5000,
    segment: "eth0",
    updatedAt: 1000,
    ...over,
  };
}

Deno.test("leases written in one turn share one commit and survive reopening", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = openStore(`${dir}/mesh.db`);
    const leases = new LeaseStore(store.db);
    const writes = [];
    for (let i = 0; i < 50; i++) {
      writes.push(
        leases.write([row(0x0a000010 + i, `02:00:00:00:00:${i.toString(16).padStart(2, "0")}`)]),
      );
    }
    await Promise.all(writes);
    assert.equal(leases.stats.commits, 1);
    assert.equal(leases.stats.largestBatch, 50);
    // An update of the same IP replaces the row (UPSERT on ip).
    await leases.write([
      row(0x0a000010, "02:00:00:00:00:00", {
        state: "released",
        hostname: "n1",
        clientId: "01020000000000",
      }),
    ]);
    store.close();

    const again = new LeaseStore(openStore(`${dir}/mesh.db`).db);
    const all = again.loadAll();
    assert.equal(all.length, 50);
    assert.deepEqual(
      all[0],
      row(0x0a000010, "02:00:00:00:00:00", {
        state: "released",
        hostname: "n1",
        clientId: "01020000000000",
      }),
    );
    assert.equal(all[49]!.ip, 0x0a000010 + 49);
    assert.ok(all.every((r) => r.ip > 0), "IPs read back as unsigned numbers");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("expireBound marks only bound leases past their end", () => {
  const store = openStore(":memory:");
  const leases = new LeaseStore(store.db);
  leases.writeNow([
    row(1, "02:00:00:00:00:01", { expiresAt: 100 }),
    row(2, "02:00:00:00:00:02", { expiresAt: 300 }),
    row(3, "02:00:00:00:00:03", { expiresAt: 100, state: "declined" }),
    row(0xfffffffe, "02:00:00:00:00:04", { expiresAt: 100 }),
  ]);
  const changed = leases.expireBound(200);
  assert.deepEqual(changed.map((r) => r.ip).sort((a, b) => a - b), [1, 0xfffffffe]);
  const byIp = new Map(leases.loadAll().map((r) => [r.ip, r.state]));
  assert.equal(byIp.get(1), "expired");
  assert.equal(byIp.get(2), "bound");
  assert.equal(byIp.get(3), "declined");
  store.close();
});

Deno.test("boundMacAt answers only for a bound lease that has not run out", () => {
  const store = openStore(":memory:");
  const leases = new LeaseStore(store.db);
  leases.writeNow([
    row(1, "02:00:00:00:00:01", { expiresAt: 300 }),
    row(2, "02:00:00:00:00:02", { expiresAt: 300, state: "released" }),
    row(0xfffffffe, "02:00:00:00:00:04", { expiresAt: 300 }),
  ]);
  assert.equal(leases.boundMacAt(1, 200), "02:00:00:00:00:01");
  assert.equal(leases.boundMacAt(1, 300), undefined, "expired at its end");
  assert.equal(leases.boundMacAt(2, 200), undefined, "not bound");
  assert.equal(leases.boundMacAt(3, 200), undefined, "no lease");
  assert.equal(leases.boundMacAt(0xfffffffe, 200), "02:00:00:00:00:04");
  store.close();
});
