/**
 * `mesh lab` from this checkout, as root: two segments (proxy beside dnsmasq,
 * server with a subnet from subnet_pool), every node online, exit 0; and
 * nothing left behind (namespaces, processes, temp directories) after a
 * normal run, a second run, and a run interrupted with SIGINT halfway; and
 * `mesh lab --qemu --nodes 2`: a SeaBIOS VM on switch A (mesh's DHCP server)
 * and an OVMF VM with its own PXE on switch B (mesh's proxy beside dnsmasq)
 * boot to their overlays, twice, nothing left behind.
 */
import assert from "node:assert/strict";
import { labSkipReason } from "../lib/netns.ts";
import { qemuSkipReason } from "../lib/qemu.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const skip = labSkipReason(["dnsmasq", "udhcpc", "tftp", "curl"]);

function lab(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", MAIN, "lab", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function runLab(args: string[]) {
  const t0 = performance.now();
  const out = await lab(args).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    ms: performance.now() - t0,
  };
}

/** Asserts that lab `id` (from "mesh lab <id>:" in the output) left nothing behind. */
async function assertGone(stdout: string): Promise<void> {
  const id = /^mesh lab (mlab\d+x\d+):/m.exec(stdout)?.[1];
  const dir = / files in (\S+)$/m.exec(stdout)?.[1];
  assert.ok(id && dir, `no lab id in the output:\n${stdout}`);
  const list = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output();
  const left = new TextDecoder().decode(list.stdout).split("\n").filter((l) => l.startsWith(id));
  assert.deepEqual(left, [], "namespaces left behind");
  assert.throws(() => Deno.statSync(dir), "temp directory left behind");
  const procs: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ");
      if (cmd.includes(dir) || cmd.includes(`${id}-`)) procs.push(`${e.name}: ${cmd}`);
    } catch { /* gone */ }
  }
  assert.deepEqual(procs, [], "processes left behind");
}

function assertTopology(stdout: string): void {
  const segs = stdout.split("\n").filter((l) => /^ {2}segment /.test(l));
  assert.equal(segs.length, 2, stdout);
  assert.ok(segs.some((l) => /mode proxy\s+subnet 172\.31\.250\.0\/24/.test(l)), stdout);
  assert.ok(segs.some((l) => /mode server\s+subnet 10\.123\.\d+\.\d+\/\d+/.test(l)), stdout);
}

Deno.test({
  name: "mesh lab --nodes 4: two segments, every node online, twice, nothing left behind",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const round of [1, 2]) {
      const r = await runLab(["--nodes", "4"]);
      assert.equal(r.code, 0, `round ${round}:\n${r.stdout}\n${r.stderr}`);
      assertTopology(r.stdout);
      assert.match(r.stdout, /summary: 4\/4 nodes online/);
      await assertGone(r.stdout);
    }
  },
});

const qemuSkip = skip ?? qemuSkipReason();
if (qemuSkip !== null) console.log(`mesh lab --qemu tests skipped: ${qemuSkip}`);

Deno.test({
  name: "mesh lab --qemu --nodes 2: a SeaBIOS VM on A and an OVMF VM on B online, twice",
  ignore: qemuSkip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const round of [1, 2]) {
      const r = await runLab(["--qemu", "--nodes", "2"]);
      assert.equal(r.code, 0, `round ${round}:\n${r.stdout}\n${r.stderr}`);
      assertTopology(r.stdout);
      assert.match(r.stdout, /booting 2 QEMU VMs \(n1 SeaBIOS, n2 OVMF;/);
      assert.match(r.stdout, /summary: 2\/2 nodes online/);
      // n1 on switch A gets its address from mesh's pool, n2 on B from dnsmasq.
      assert.match(
        r.stdout,
        /^ +[\d.]+s n1 +sw A +52:54:00:7a:00:01 +10\.123\.\S+ +[0-9a-f]{8} +online/m,
      );
      assert.match(
        r.stdout,
        /^ +[\d.]+s n2 +sw B +52:54:00:7a:00:02 +172\.31\.250\.\S+ +[0-9a-f]{8} +online/m,
      );
      const summary = /^summary: .*$/m.exec(r.stdout)?.[0];
      console.log(
        `mesh lab --qemu --nodes 2, round ${round}: process ${
          (r.ms / 1000).toFixed(1)
        } s; ${summary}`,
      );
      await assertGone(r.stdout);
    }
  },
});

Deno.test({
  name: "mesh lab interrupted with SIGINT after the topology: nothing left behind",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const child = lab(["--nodes", "6"]);
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!/^booting /m.test(seen)) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value;
    }
    assertTopology(seen);
    child.kill("SIGINT");
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    assert.equal(status.code, 130, seen);
    assert.match(seen, /interrupted/);
    await assertGone(seen);
  },
});

Deno.test({
  name: "mesh lab wall time: default (6 nodes) and --nodes 50",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const args of [[], ["--nodes", "50"]]) {
      const r = await runLab(args);
      const summary = /^summary: .*$/m.exec(r.stdout)?.[0] ?? "(no summary)";
      console.log(
        `mesh lab ${args.join(" ") || "(6 nodes)"}: exit ${r.code}, process ${
          (r.ms / 1000).toFixed(1)
        } s; ${summary}`,
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      await assertGone(r.stdout);
    }
  },
});
