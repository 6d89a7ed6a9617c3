/**
 * `mesh node ctl` against Debian's sshd running in lab namespaces ("nodes"),
 * with mesh's key authorized and the store seeded so each node has a lease at
 * its address: one node's output and exit status, three nodes at once with
 * prefixes and a summary, a changed host key refused until `mesh node forget`,
 * --timeout, and the one-line errors (unknown node, no lease, unreachable).
 */
import assert from "node:assert/strict";
import { ensureNodeKey } from "../../src/daemon/mod.ts";
import { meshIn } from "../lib/mesh_daemon.ts";
import { createLab, isRoot } from "../lib/netns.ts";
import { seedNodes } from "../lib/seed_nodes.ts";
import { SSHD, startLabSshd, waitListening } from "../lib/lab_sshd.ts";

const skip = !isRoot() ? "needs root (network namespaces)" : (() => {
  try {
    Deno.statSync(SSHD);
    Deno.statSync("/usr/bin/ssh");
    return null;
  } catch {
    return "needs Debian's openssh-server and openssh-client (tools/setup.sh)";
  }
})();
if (skip) console.warn(`node_ctl_test skipped: ${skip}`);

const NODES = [
  { host: "n1", id: "c0ffee01", mac: "02:00:00:00:00:01", ip: "10.78.0.11" },
  { host: "n2", id: "c0ffee02", mac: "02:00:00:00:00:02", ip: "10.78.0.12" },
  { host: "n3", id: "c0ffee03", mac: "02:00:00:00:00:03", ip: "10.78.0.13" },
];

Deno.test({
  name: "mesh node ctl: one node, three in parallel, a changed host key, --timeout, bad targets",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.mkdir("/run/sshd", { recursive: true }); // sshd's privilege separation dir
    await using lab = await createLab("nctl", [
      { name: "srv", address: "10.78.0.1/24" },
      ...NODES.map((n) => ({ name: n.host, address: `${n.ip}/24` })),
    ]);
    const dir = lab.dir;
    const host0 = `${dir}/host0`;
    const state = `${dir}/state`;
    await Deno.mkdir(host0);
    await Deno.mkdir(state, { mode: 0o700 });
    await Deno.writeTextFile(`${host0}/mesh.yaml`, `state_dir: ${state}\n`);
    await Deno.writeTextFile(`${dir}/authorized_keys`, (await ensureNodeKey(host0)) + "\n");
    const sshds = new Map<string, Deno.ChildProcess>();
    for (const n of NODES) sshds.set(n.host, await startLabSshd(lab, dir, n));
    for (const n of NODES) await waitListening(lab, n.ip);
    seedNodes(state, NODES);
    const mesh = (...args: string[]) => meshIn(lab, "srv", ["--host0", host0, ...args]);

    // One node: its output passes through, and its exit status is ours.
    const one = await mesh("node", "ctl", "-n", NODES[0]!.id, "uname -n; exit 3");
    assert.equal(one.code, 3, one.stderr);
    assert.equal(one.stdout.trim(), Deno.hostname());
    // by machine-independent MAC too, and the host key is now pinned by node id
    const byMac = await mesh("node", "ctl", "-n", NODES[0]!.mac, "echo ok");
    assert.equal(byMac.code, 0, byMac.stderr);
    assert.match(await Deno.readTextFile(`${state}/known_hosts`), /c0ffee01/);

    // Three at once: one prefixed line each, then a summary of exit codes.
    const all = await mesh("node", "ctl", "-n", "all", "ip -o -4 addr show dev eth0; exit 0");
    assert.equal(all.code, 0, all.stderr);
    for (const n of NODES) {
      assert.match(all.stdout, new RegExp(`^${n.id}: .*inet ${n.ip.replaceAll(".", "\\.")}/`, "m"));
      assert.match(all.stdout, new RegExp(`^${n.id}  exit 0$`, "m"));
    }
    const list = await mesh("node", "ctl", "-n", `${NODES[1]!.id},${NODES[2]!.id}`, "exit 7");
    assert.equal(list.code, 7);
    assert.equal(list.stdout.match(/exit 7/g)?.length, 2, list.stdout);

    // A hanging command stops at --timeout (124).
    const t0 = Date.now();
    const hung = await mesh("node", "ctl", "-n", NODES[1]!.id, "--timeout", "2", "sleep 30");
    assert.equal(hung.code, 124, hung.stderr);
    assert.match(hung.stderr, /within --timeout 2 s/);
    assert.ok(Date.now() - t0 < 15_000);

    // n1 reinstalled: a new host key is refused, in one clear line, until forgotten.
    sshds.get("n1")!.kill("SIGTERM");
    await sshds.get("n1")!.status;
    sshds.set("n1", await startLabSshd(lab, dir, NODES[0]!, { rekey: true }));
    await waitListening(lab, NODES[0]!.ip);
    const changed = await mesh("node", "ctl", "-n", NODES[0]!.id, "true");
    assert.equal(changed.code, 255);
    assert.match(changed.stderr, /host key changed.*mesh node forget -n c0ffee01/);
    assert.equal(changed.stderr.trim().split("\n").length, 1, changed.stderr);
    const forgot = await mesh("node", "forget", "-n", NODES[0]!.id);
    assert.equal(forgot.code, 0, forgot.stderr);
    seedNodes(state, [NODES[0]!]); // it boots again
    const again = await mesh("node", "ctl", "-n", NODES[0]!.id, "exit 0");
    assert.equal(again.code, 0, again.stderr);

    // Bad targets: one line each.
    const unknown = await mesh("node", "ctl", "-n", "deadbeef", "true");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^mesh: no node with id, MAC or machine "deadbeef"\n$/);
    seedNodes(state, [{ id: "0dd00001", mac: "02:00:00:00:00:41" }]);
    const noLease = await mesh("node", "ctl", "-n", "0dd00001", "true");
    assert.equal(noLease.code, 1);
    assert.match(noLease.stderr, /^mesh: node 0dd00001 has no current lease/);
    seedNodes(state, [{ id: "0dd00002", mac: "02:00:00:00:00:42", ip: "10.78.0.99" }]);
    const gone = await mesh("node", "ctl", "-n", "0dd00002", "true");
    assert.equal(gone.code, 255);
    assert.match(gone.stderr, /^mesh: node 0dd00002 \(10\.78\.0\.99\): unreachable: /);
    assert.equal(gone.stderr.trim().split("\n").length, 1, gone.stderr);
  },
});
