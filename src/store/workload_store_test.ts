import assert from "node:assert/strict";
import { EventFeed, NetStore, openStore, type WorkloadRecord, WorkloadStore } from "./mod.ts";

Deno.test("WorkloadStore: rows by name and node; a change of state is one event", () => {
  const dir = Deno.makeTempDirSync({ prefix: "mesh-workload-store-" });
  const store = openStore(`${dir}/mesh.db`);
  try {
    const wl = new WorkloadStore(store.db);
    const run: WorkloadRecord = {
      name: "w1",
      uuid: "u1",
      nodeId: "c0ffee01",
      state: "running",
      pid: 42,
      startedAt: 1000,
      updatedAt: 1000,
      lastError: null,
    };
    wl.record(run);
    wl.record({ ...run, updatedAt: 1500 }); // same state: no event
    wl.record({ ...run, state: "stopped", pid: null, updatedAt: 2000 }, { how: "term" });
    wl.record({
      ...run,
      name: "w2",
      uuid: "u2",
      nodeId: "c0ffee02",
      state: "failed",
      pid: null,
      lastError: "no kvm",
    });
    assert.deepEqual(wl.get("w1"), { ...run, state: "stopped", pid: null, updatedAt: 2000 });
    assert.deepEqual(wl.list().map((r) => r.name), ["w1", "w2"]);
    assert.deepEqual(wl.onNode("c0ffee02").map((r) => r.name), ["w2"]);
    assert.equal(wl.get("nope"), undefined);
    assert.deepEqual(new NetStore(store.db).events().map((e) => [e.kind, e.detail]), [
      ["workload-running", { workload: "w1", node: "c0ffee01", pid: 42 }],
      ["workload-stopped", { workload: "w1", node: "c0ffee01", how: "term" }],
      ["workload-failed", { workload: "w2", node: "c0ffee02", error: "no kvm" }],
    ]);
    assert.equal(new EventFeed(store.db).tail(10).events.length, 3);
  } finally {
    store.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
