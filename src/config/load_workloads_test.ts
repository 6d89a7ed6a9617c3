/**
 * Workloads through loadHost0 on a copy of host0-example: found, validated
 * with the example's meshes, and every problem reported as file:line
 * beside the other files' (what `mesh config check` prints).
 */
import assert from "node:assert/strict";
import { ConfigError, formatIssue } from "../errors.ts";
import { copyTree, HOST0_EXAMPLE } from "../../tests/config_corpus/tree.ts";
import { loadHost0 } from "./mod.ts";

async function example() {
  const tmp = await Deno.makeTempDir({ prefix: "mesh-load-workloads-" });
  const host0 = `${tmp}/host0`;
  await copyTree(HOST0_EXAMPLE, host0);
  await Deno.remove(`${host0}/state`, { recursive: true }).catch(() => {});
  await Deno.mkdir(`${host0}/workloads`, { recursive: true });
  return {
    host0,
    write: (name: string, text: string) => Deno.writeTextFile(`${host0}/workloads/${name}`, text),
    async [Symbol.asyncDispose]() {
      await Deno.remove(tmp, { recursive: true });
    },
  };
}

const GOOD = "name=vm1\nuuid=vm-0001\nplatform.memory.size=1G\nplatform.cpu.threads=2\n" +
  "platform.network.lan.mesh=manage\n";

Deno.test("loadHost0: workloads/*.conf, sorted by name, other files ignored", async () => {
  await using ex = await example();
  await ex.write("vm1.conf", GOOD);
  await ex.write("vm0.conf", GOOD.replace("vm1", "vm0").replace("0001", "0000"));
  await ex.write("notes.txt", "not a workload\n");
  const host0 = await loadHost0(ex.host0);
  assert.deepEqual(host0.workloads.map((w) => [w.name, w.uuid]), [["vm0", "vm-0000"], [
    "vm1",
    "vm-0001",
  ]]);
  assert.deepEqual(host0.workloads[0]!.networks, [{ id: "lan", mesh: "manage" }]);
});

Deno.test("loadHost0: a missing workloads folder is no workload", async () => {
  await using ex = await example();
  await Deno.remove(`${ex.host0}/workloads`);
  assert.deepEqual((await loadHost0(ex.host0)).workloads, []);
});

Deno.test("loadHost0: workload problems are file:line issues", async () => {
  await using ex = await example();
  await ex.write("vm1.conf", GOOD + "platform.memory.sise=2G\n");
  await ex.write("vm2.conf", GOOD.replace("=manage", "=nope"));
  await ex.write("vm3.conf", GOOD.replace("name=vm1", "name=vm3"));
  const e = await loadHost0(ex.host0).then(() => null, (x) => x);
  assert.ok(e instanceof ConfigError);
  const lines = e.issues.map((i) => formatIssue(i).replace(`${ex.host0}/`, ""));
  assert.deepEqual(lines, [
    'workloads/vm1.conf:6: unknown key "platform.memory.sise" (did you mean "platform.memory.size"?)',
    'workloads/vm2.conf:1: name "vm1" must match the file name (vm2.conf)',
    "workloads/vm2.conf:1: workload name vm1 is also used by " + `${ex.host0}/workloads/vm1.conf`,
    "workloads/vm2.conf:2: uuid vm-0001 is also used by " + `${ex.host0}/workloads/vm1.conf`,
    'workloads/vm2.conf:5: no mesh "nope" in network/*.conf',
    "workloads/vm3.conf:2: uuid vm-0001 is also used by " + `${ex.host0}/workloads/vm1.conf`,
  ]);
});
