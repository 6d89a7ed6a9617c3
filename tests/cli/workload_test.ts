/**
 * `mesh workload` against Debian's sshd in lab namespaces ("nodes"), with
 * mesh's key authorized and the store seeded so each node has a lease at its
 * address (as tests/cli/node_ctl_test.ts). Each node's sshd gives its
 * sessions a run root of their own (MESH_WORKLOAD_ROOT), since the nodes
 * share this machine's file system. The central node serves /isos/ (busybox
 * httpd stands in for mesh serve's static route). Real qemu-system-x86_64
 * under TCG: start on the chosen node (the volume fetched from /isos/, the
 * tap on br<vni>), status with a live pid, node info, list --json, stop; a
 * workload bigger than any node: one clear line and no process. Node n2's
 * sshd runs on one CPU, so a 2-CPU workload has exactly one node to go to.
 */
import assert from "node:assert/strict";
import { ensureNodeKey } from "../../src/daemon/mod.ts";
import { Stage } from "../../src/store/mod.ts";
import { meshIn } from "../lib/mesh_daemon.ts";
import { createLab, hasCommand, isRoot } from "../lib/netns.ts";
import { seedNodes } from "../lib/seed_nodes.ts";
import { SSHD, startLabSshd, waitListening } from "../lib/lab_sshd.ts";

const skip = !isRoot() ? "needs root (network namespaces)" : (() => {
  for (const c of [SSHD, "/usr/bin/ssh"]) {
    try {
      Deno.statSync(c);
    } catch {
      return "needs Debian's openssh-server and openssh-client (tools/setup.sh)";
    }
  }
  if (!hasCommand("qemu-system-x86_64")) return "needs qemu-system-x86_64 (tools/setup.sh)";
  if (!hasCommand("busybox")) return "needs busybox (its httpd serves /isos/)";
  if (!hasCommand("qemu-img")) return "needs qemu-img (qemu-utils, tools/setup.sh)";
  if (!hasCommand("taskset") || navigator.hardwareConcurrency < 2) {
    return "needs 2 CPUs and taskset";
  }
  return null;
})();
if (skip) console.warn(`workload_test skipped: ${skip}`);

const NODES = [
  { host: "n1", id: "c0ffee21", mac: "02:00:00:00:21:01", ip: "10.79.0.11" },
  { host: "n2", id: "c0ffee22", mac: "02:00:00:00:21:02", ip: "10.79.0.12" },
];
const CENTRAL = "10.79.0.1";

/** Pids of processes whose command line contains `text`. */
function processesWith(text: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      if (cmd.includes(text)) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

const WORKLOAD = (name: string, uuid: string, memory: string, extra = "", cpus = 1) =>
  `name=${name}\nuuid=${uuid}\nplatform.memory.size=${memory}\nplatform.cpu.threads=${cpus}\n` +
  `platform.cpu.mode=host\n${extra}`;

Deno.test({
  name: "mesh workload: start on the chosen node, status, node info, list, stop; too big to place",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await Deno.mkdir("/run/sshd", { recursive: true });
    const started: number[] = [];
    await using lab = await createLab("wl", [
      { name: "srv", address: `${CENTRAL}/24` },
      ...NODES.map((n) => ({ name: n.host, address: `${n.ip}/24` })),
    ]);
    try {
      const dir = lab.dir;
      const host0 = `${dir}/host0`;
      const state = `${dir}/state`;
      for (const d of ["machines/default", "network", "workloads", "isos"]) {
        await Deno.mkdir(`${host0}/${d}`, { recursive: true });
      }
      await Deno.mkdir(state, { mode: 0o700 });
      await Deno.writeTextFile(`${host0}/mesh.yaml`, `state_dir: ${state}\n`);
      await Deno.writeTextFile(`${host0}/machines/default/UUID`, "default\n");
      await Deno.writeTextFile(`${host0}/machines/default/manifest`, "");
      await Deno.writeTextFile(
        `${host0}/network/lan.conf`,
        "name=lan\nprefix=fd42:79:0:1::/64\nvni=79\n",
      );
      const disk = `${dir}/vm/w1/disk.qcow2`;
      await Deno.writeTextFile(
        `${host0}/workloads/w1.conf`,
        WORKLOAD(
          "w1",
          "wl-test-w1",
          "64M",
          `platform.volume.disk.type=qcow2\nplatform.volume.disk.path=${disk}\n` +
            "platform.volume.disk.source=/isos/disk.qcow2\nplatform.network.lan.mesh=lan\n",
          2,
        ),
      );
      await Deno.writeTextFile(`${host0}/workloads/w2.conf`, WORKLOAD("w2", "wl-test-w2", "32M"));
      await Deno.writeTextFile(
        `${host0}/workloads/bad.conf`,
        WORKLOAD("bad", "wl-test-bad", "32M", "", 2).replace("mode=host", "mode=NoSuchCpu"),
      );
      await Deno.writeTextFile(
        `${host0}/workloads/big.conf`,
        WORKLOAD("big", "wl-test-big", "4096G"),
      );
      // /isos/disk.qcow2 as the central node serves it (mesh serve's /isos/ is <host0>/isos)
      const img = await new Deno.Command("qemu-img", {
        args: ["create", "-q", "-f", "qcow2", `${host0}/isos/disk.qcow2`, "16M"],
      }).output();
      assert.ok(img.success, new TextDecoder().decode(img.stderr));
      lab.spawn("srv", ["busybox", "httpd", "-f", "-p", `${CENTRAL}:80`, "-h", host0]);
      await Deno.writeTextFile(`${dir}/authorized_keys`, (await ensureNodeKey(host0)) + "\n");
      for (const n of NODES) {
        await startLabSshd(lab, dir, n, {
          env: { MESH_WORKLOAD_ROOT: `${dir}/run/${n.host}` },
          // n2 runs on one CPU (nproc says 1 there), so a 2-CPU workload has one place to go.
          prefix: n.host === "n2" ? ["taskset", "-c", "0"] : [],
        });
        // the mesh's bridge, as the VXLAN side makes it on a node
        await lab.exec(n.host, ["ip", "link", "add", "br79", "type", "bridge"]);
      }
      for (const n of NODES) await waitListening(lab, n.ip);
      await waitListening(lab, CENTRAL, 80);
      seedNodes(state, NODES, Stage.Online);
      const mesh = (...args: string[]) => meshIn(lab, "srv", ["--host0", host0, ...args]);

      const check = await mesh("config", "check");
      assert.equal(check.code, 0, check.stderr);

      // Too big for any node: one line, naming the need and the best node's free memory.
      const big = await mesh("workload", "start", "-w", "big", "--tcg");
      assert.equal(big.code, 1, big.stdout + big.stderr);
      assert.match(
        big.stderr,
        /^mesh: workload big needs 4 TiB of memory and 1 CPU; no node can hold it: the best, c0ffee2[12], has [\d.]+ [MG]iB free and \d+ CPUs?; nothing was started\n$/,
      );
      assert.deepEqual(processesWith("wl-test-big"), []);

      // qemu refusing the workload: failed, with qemu's own words, recorded.
      const bad = await mesh("workload", "start", "-w", "bad", "--tcg");
      assert.equal(bad.code, 1, bad.stdout + bad.stderr);
      assert.match(
        bad.stderr,
        /^mesh: workload bad did not start on node c0ffee21: qemu-system-x86_64 failed: .*NoSuchCpu.*\n$/,
      );
      const badStatus = await mesh("--json", "workload", "status", "-w", "bad");
      assert.equal((JSON.parse(badStatus.stdout) as { state: string }).state, "failed");

      // Start on the node that can hold 2 CPUs, the volume fetched from /isos/, the tap on br79.
      const start = await mesh("workload", "start", "-w", "w1", "--tcg");
      assert.equal(start.code, 0, start.stderr);
      assert.match(
        start.stdout,
        /^workload w1 runs on node c0ffee21 \(10\.79\.0\.11\), pid \d+, tcg/,
      );
      assert.equal(
        (await Deno.stat(disk)).size,
        (await Deno.stat(`${host0}/isos/disk.qcow2`)).size,
      );
      const status = await mesh("--json", "workload", "status", "-w", "w1");
      assert.equal(status.code, 0, status.stderr);
      const st = JSON.parse(status.stdout) as { state: string; pid: number; node: string };
      assert.equal(st.state, "running");
      assert.equal(st.node, "c0ffee21");
      started.push(st.pid);
      const cmdline = Deno.readTextFileSync(`/proc/${st.pid}/cmdline`).split("\0");
      assert.equal(cmdline[0], "qemu-system-x86_64");
      assert.ok(
        cmdline.includes("tcg") && cmdline.includes(`file=${disk},format=qcow2,if=virtio,id=disk`),
      );
      assert.ok(cmdline.includes(`${dir}/run/n1/wl-test-w1/qemu.pid`), cmdline.join(" "));
      const ports = await lab.exec("n1", ["ip", "-o", "link", "show", "master", "br79"]);
      assert.match(ports.stdout, /: mw[0-9a-f]{8}: /);
      const text = await mesh("workload", "status", "-w", "w1");
      assert.match(
        text.stdout,
        /^workload: w1\n.*\nnode: {5}c0ffee21 \(10\.79\.0\.11\)\nstate: {4}running\npid: {6}\d+\n/s,
      );

      // Again: it runs already, nothing new.
      const again = await mesh("workload", "start", "-w", "w1", "--tcg");
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /already runs on node c0ffee21/);

      // Not a second copy elsewhere.
      const twice = await mesh("workload", "start", "-w", "w1", "-n", NODES[1]!.id, "--tcg");
      assert.equal(twice.code, 1);
      assert.equal(twice.stderr, "mesh: workload w1 runs on node c0ffee21; stop it there first\n");
      // Never started: stopped, nothing to ask.
      const never = await mesh("--json", "workload", "status", "-w", "big");
      assert.equal(never.code, 0, never.stderr);
      assert.equal((JSON.parse(never.stdout) as { state: string }).state, "stopped");

      // -n: on the node named.
      const w2 = await mesh("workload", "start", "-w", "w2", "-n", NODES[1]!.id, "--tcg");
      assert.equal(w2.code, 0, w2.stderr);
      assert.match(w2.stdout, /^workload w2 runs on node c0ffee22/);

      const info = await mesh("--json", "node", "info", "-n", NODES[0]!.id);
      const node = JSON.parse(info.stdout) as { workloads: { name: string; state: string }[] };
      assert.deepEqual(node.workloads.map((w) => [w.name, w.state]), [
        ["bad", "failed"],
        ["w1", "running"],
      ]);
      const infoText = await mesh("node", "info", "-n", NODES[0]!.id);
      assert.match(
        infoText.stdout,
        /workloads:\nNAME +STATE +PID +UPDATED\nbad +failed +- .*\nw1 +running +\d+ /,
      );

      const list = await mesh("--json", "workload", "list");
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as {
        name: string;
        node: string | null;
        state: string;
      }[];
      assert.deepEqual(rows.map((r) => [r.name, r.node, r.state]), [
        ["bad", "c0ffee21", "failed"],
        ["big", null, "stopped"],
        ["w1", "c0ffee21", "running"],
        ["w2", "c0ffee22", "running"],
      ]);

      // Stop: no guest OS answers the powerdown; qemu quits on SIGTERM.
      for (const name of ["w1", "w2"]) {
        const stop = await mesh("workload", "stop", "-w", name, "--timeout", "1");
        assert.equal(stop.code, 0, stop.stderr);
        assert.match(stop.stdout, new RegExp(`^workload ${name} stopped on node c0ffee2[12]`));
      }
      for (let i = 0; i < 50 && processesWith(`${dir}/run/`).length > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(processesWith(`${dir}/run/`), []);
      const after = await mesh("--json", "workload", "status", "-w", "w1");
      assert.equal((JSON.parse(after.stdout) as { state: string }).state, "stopped");
      const gone = await lab.exec("n1", ["ip", "-o", "link", "show", "master", "br79"]);
      assert.equal(gone.stdout.trim(), "");

      const events = await mesh("--json", "events");
      const kinds = events.stdout.trim().split("\n").map((l) => JSON.parse(l) as { kind?: string })
        .flatMap((e) => e.kind?.startsWith("workload-") ? [e.kind] : []);
      assert.deepEqual(kinds, [
        "workload-failed",
        "workload-running",
        "workload-running",
        "workload-stopped",
        "workload-stopped",
      ]);
    } finally {
      for (const pid of [...started, ...processesWith(`${lab.dir}/run/`)]) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }
    }
  },
});
