import assert from "node:assert/strict";
import { chooseNode, formatSize, type NodeCapacity, parseProbe, shortfall } from "./mod.ts";

const GiB = 2 ** 30;
const node = (id: string, memGiB: number, cpus: number): NodeCapacity => ({
  id,
  memAvailable: memGiB * GiB,
  cpus,
  kvm: true,
  root: "/run/mesh/workloads",
  central: "10.0.0.1",
});

Deno.test("probe: meminfo, nproc, kvm, run root and the central address", () => {
  const text = "mesh-probe root=/tmp/n1\nmesh-probe central=10.78.0.1\nmesh-probe kvm=no\n" +
    "MemTotal:       24684228 kB\nMemFree:        1 kB\nMemAvailable:   24257488 kB\n" +
    "mesh-probe nproc=2\n";
  assert.deepEqual(parseProbe("n1", text), {
    id: "n1",
    memAvailable: 24257488 * 1024,
    cpus: 2,
    kvm: false,
    root: "/tmp/n1",
    central: "10.78.0.1",
  });
  const bare = parseProbe(
    "n2",
    "mesh-probe root=\nmesh-probe central=\nMemAvailable: 10 kB\nmesh-probe nproc=1\n",
  );
  assert.equal(bare?.root, "/run/mesh/workloads");
  assert.equal(bare?.central, null);
  assert.equal(parseProbe("n3", "mesh-probe nproc=2\n"), null);
  assert.equal(parseProbe("n3", "MemAvailable: 10 kB\n"), null);
});

Deno.test("choice: the most MemAvailable among nodes that fit; ties by CPUs then id", () => {
  const need = { name: "w", memory: 2 * GiB, cpus: 2 };
  const a = node("a", 8, 1), b = node("b", 4, 4), c = node("c", 4, 4), d = node("d", 1, 8);
  const r = chooseNode(need, [d, c, a, b]);
  assert.deepEqual(r, { ok: true, node: b }); // a has more memory but one CPU
  assert.deepEqual(chooseNode({ ...need, cpus: 1 }, [d, c, a, b]), { ok: true, node: a });
});

Deno.test("choice: nothing fits: one line naming the need and the best node's free memory", () => {
  const r = chooseNode({ name: "big", memory: 4096 * GiB, cpus: 1 }, [
    node("a", 3.5, 2),
    node("b", 23.1, 2),
  ]);
  assert.deepEqual(r, {
    ok: false,
    error: "workload big needs 4 TiB of memory and 1 CPU; no node can hold it: the best, b, " +
      "has 23 GiB free and 2 CPUs; nothing was started",
  });
  const cpu = chooseNode({ name: "wide", memory: GiB, cpus: 16 }, [
    node("a", 2.5, 2),
    node("b", 1.5, 4),
  ]);
  assert.equal(
    cpu.ok ? "" : cpu.error,
    "workload wide needs 1 GiB of memory and 16 CPUs; no node can hold it: the best, a, has " +
      "2.5 GiB free and 2 CPUs (the most CPUs on a node: 4); nothing was started",
  );
  const none = chooseNode({ name: "w", memory: GiB, cpus: 1 }, []);
  assert.equal(
    none.ok ? "" : none.error,
    "workload w: no node is online (none has a current lease); nothing was started",
  );
  const down = chooseNode({ name: "w", memory: GiB, cpus: 1 }, [], [{
    id: "a",
    error: "node a: unreachable",
  }]);
  assert.match(down.ok ? "" : down.error, /no node answered \(node a: unreachable\)/);
  assert.match(
    shortfall({ name: "w", memory: 8 * GiB, cpus: 1 }, node("a", 1, 1)),
    /^workload w needs 8 GiB .* node a has 1 GiB free/,
  );
});

Deno.test("sizes", () => {
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1536 * 2 ** 20), "1.5 GiB");
  assert.equal(formatSize(64 * 2 ** 20), "64 MiB");
  assert.equal(formatSize(2 ** 40), "1 TiB");
});
