import assert from "node:assert/strict";
import { NetStore, openStore } from "./mod.ts";
import { parseCidr } from "../wire/mod.ts";

function withStore(fn: (net: NetStore, reopen: () => NetStore) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "mesh-net-store-" });
  const stores: { close(): void }[] = [];
  const open = () => {
    const s = openStore(`${dir}/mesh.db`);
    stores.push(s);
    return new NetStore(s.db);
  };
  try {
    fn(open(), open);
  } finally {
    for (const s of stores) s.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("NetStore: a scan's map and allocations survive reopening the database", () => {
  withStore((net, reopen) => {
    net.commitScan(
      1000,
      [{ id: "seg-02aa", macs: ["02:aa"], report: { id: "seg-02aa", link: "up" } }],
      [{ segment: "seg-02aa", subnet: parseCidr("10.0.0.0/24"), lastSeen: 1000 }],
      [{ kind: "segment-added", segment: "seg-02aa", detail: { interfaces: ["eth0"] } }],
    );
    const again = reopen();
    assert.deepEqual(again.segments(), [{
      id: "seg-02aa",
      macs: ["02:aa"],
      report: { id: "seg-02aa", link: "up" },
      updatedAt: 1000,
    }]);
    assert.deepEqual(again.allocations(), [{
      segment: "seg-02aa",
      subnet: parseCidr("10.0.0.0/24"),
      lastSeen: 1000,
    }]);
    assert.deepEqual(again.events().map((e) => [e.kind, e.segment, e.at]), [
      ["segment-added", "seg-02aa", 1000],
    ]);
  });
});

Deno.test("NetStore: the next scan replaces the map whole", () => {
  withStore((net) => {
    net.commitScan(1, [{ id: "a", macs: [], report: {} }, { id: "b", macs: [], report: {} }], []);
    net.commitScan(2, [{ id: "c", macs: [], report: {} }], []);
    assert.deepEqual(net.segments().map((s) => s.id), ["c"]);
  });
});

Deno.test("NetStore: a failed commit leaves the previous map", () => {
  withStore((net) => {
    net.commitScan(1, [{ id: "a", macs: [], report: {} }], []);
    assert.throws(() =>
      net.commitScan(2, [{ id: "b", macs: [], report: {} }, { id: "b", macs: [], report: {} }], [])
    );
    assert.deepEqual(net.segments().map((s) => s.id), ["a"]);
  });
});
