/**
 * The node-side supervisor under the shells a node may have (sh, and busybox
 * sh as on Alpine), installed and run through the same remote command mesh
 * sends over SSH, with a stand-in for qemu that daemonizes like it (pid file,
 * a process whose command line names the run dir) or fails like it.
 */
import assert from "node:assert/strict";
import { parseWorkloadConf } from "../config/mod.ts";
import {
  parseRemoteStatus,
  planStart,
  type RemoteStatus,
  SUPERVISOR_SH,
  supervisorCommand,
} from "./mod.ts";

const FAKE_QEMU = `#!/bin/sh
pidfile=""
while [ $# -gt 0 ]; do
  [ "$1" = "-pidfile" ] && pidfile="$2"
  shift
done
if [ -n "$FAKE_FAIL" ]; then echo "fake-qemu: $FAKE_FAIL" >&2; exit 1; fi
sh -c 'trap "kill \\$c; exit 0" TERM; sleep 60 & c=$!; wait $c' fake "$pidfile" </dev/null >/dev/null 2>&1 &
echo $! >"$pidfile"
`;

/** Stands in for socat talking to QMP: logs what it was sent, then the guest powers off. */
const FAKE_SOCAT = `#!/bin/sh
echo "$*" >"$FAKE_QMP_LOG"
cat >>"$FAKE_QMP_LOG"
sock="\${4#UNIX-CONNECT:}"
kill -TERM "$(cat "\${sock%/qmp.sock}/qemu.pid")"
`;

function shells(): string[][] {
  const out = [["sh"]];
  try {
    Deno.statSync("/usr/bin/busybox");
    out.push(["busybox", "sh"]);
  } catch {
    console.warn("supervisor_test: no busybox; testing with sh only");
  }
  return out;
}

async function run(
  shell: string[],
  env: Record<string, string>,
  verb: "start" | "stop" | "status",
  uuid: string,
  args: string[] = [],
): Promise<{ code: number; status: RemoteStatus | null; stdout: string }> {
  const child = new Deno.Command(shell[0]!, {
    args: [...shell.slice(1), "-c", supervisorCommand(verb, uuid, args)],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(SUPERVISOR_SH));
  await w.close();
  const r = await child.output();
  const stdout = new TextDecoder().decode(r.stdout);
  return {
    code: r.code,
    status: parseRemoteStatus(stdout),
    stdout: stdout + new TextDecoder().decode(r.stderr),
  };
}

/** Kills a stand-in qemu and its sleep (a SIGKILLed shell leaves its child behind). */
function killAll(pid: number): void {
  let children: number[] = [];
  try {
    children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
      .filter(Boolean).map(Number);
  } catch { /* gone */ }
  for (const p of [pid, ...children]) {
    try {
      Deno.kill(p, "SIGKILL");
    } catch { /* gone */ }
  }
}

/** Runs and is no zombie (this machine's init may reap late). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s*Z/m.test(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return false;
  }
}

for (const shell of shells()) {
  Deno.test(`supervisor (${shell.join(" ")}): start, already, status, stop, failures`, async () => {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-supervisor-" });
    const pids: number[] = [];
    try {
      await Deno.mkdir(`${tmp}/bin`);
      await Deno.writeTextFile(`${tmp}/bin/fake-qemu`, FAKE_QEMU, { mode: 0o755 });
      const root = `${tmp}/root`;
      const env = { MESH_WORKLOAD_ROOT: root, PATH: `${tmp}/bin:${Deno.env.get("PATH")}` };
      const w = parseWorkloadConf(
        "name=w1\nuuid=u-1\nplatform.memory.size=16M\nplatform.cpu.threads=1\n",
        "w1.conf",
      ).value!;
      const plan = planStart({ workload: w, root, accel: "tcg", bridges: {}, central: null });
      const spec = plan.spec.map((l) => l === "arg qemu-system-x86_64" ? "arg fake-qemu" : l);

      const before = await run(shell, env, "status", "u-1");
      assert.equal(before.status?.state, "stopped", before.stdout);

      const started = await run(shell, env, "start", "u-1", spec);
      assert.equal(started.code, 0, started.stdout);
      assert.equal(started.status?.state, "running", started.stdout);
      const pid = started.status!.pid!;
      pids.push(pid);
      assert.ok(alive(pid));
      assert.equal(await Deno.readTextFile(`${root}/mesh-workload.sh`), SUPERVISOR_SH);
      assert.equal((await Deno.readTextFile(`${root}/u-1/spec`)).trim(), spec.join("\n"));

      const again = await run(shell, env, "start", "u-1", spec);
      assert.equal(again.status?.already, true);
      assert.equal(again.status?.pid, pid);

      const st = await run(shell, env, "status", "u-1");
      assert.equal(st.status?.state, "running");
      assert.equal(typeof st.status?.uptimeS, "number");
      assert.ok((st.status?.memoryKb ?? 0) > 0, st.stdout);

      // no socat/nc -U here: QMP is skipped and SIGTERM stops it
      const stopped = await run(shell, env, "stop", "u-1", ["1"]);
      assert.equal(stopped.status?.state, "stopped", stopped.stdout);
      assert.equal(stopped.status?.how, "term");
      assert.ok(!alive(pid));

      // With socat on the node: QMP system_powerdown, and the guest powers off.
      const guest = await run(shell, env, "start", "u-1", spec);
      pids.push(guest.status!.pid!);
      const qmp = Deno.listen({ transport: "unix", path: `${root}/u-1/qmp.sock` });
      await Deno.writeTextFile(`${tmp}/bin/socat`, FAKE_SOCAT, { mode: 0o755 });
      const off = await run(shell, { ...env, FAKE_QMP_LOG: `${tmp}/qmp.log` }, "stop", "u-1", [
        "5",
      ]);
      qmp.close();
      await Deno.remove(`${tmp}/bin/socat`);
      assert.equal(off.status?.how, "powerdown", off.stdout);
      assert.ok(!alive(guest.status!.pid!));
      assert.deepEqual((await Deno.readTextFile(`${tmp}/qmp.log`)).trim().split("\n"), [
        `-t 1 - UNIX-CONNECT:${root}/u-1/qmp.sock`,
        '{"execute":"qmp_capabilities"}',
        '{"execute":"system_powerdown"}',
      ]);

      // qemu refusing to start: failed, with its message
      const bad = await run(shell, { ...env, FAKE_FAIL: "no such device" }, "start", "u-1", spec);
      assert.equal(bad.code, 1);
      assert.equal(bad.status?.state, "failed");
      assert.match(bad.status?.error ?? "", /fake-qemu failed: fake-qemu: no such device/);
      assert.equal((await run(shell, env, "status", "u-1")).status?.state, "failed");

      // qemu dying on its own: failed
      const up = await run(shell, env, "start", "u-1", spec);
      assert.equal(up.status?.state, "running", up.stdout);
      pids.push(up.status!.pid!);
      killAll(up.status!.pid!);
      for (let i = 0; i < 50 && alive(up.status!.pid!); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const crashed = await run(shell, env, "status", "u-1");
      assert.equal(crashed.status?.state, "failed", crashed.stdout);

      // more memory than the machine has: exit 3, nothing started
      const huge = spec.map((l) => l.startsWith("mem ") ? `mem ${2 ** 40}` : l);
      const big = await run(shell, env, "start", "u-1", huge);
      assert.equal(big.code, 3, big.stdout);
      assert.match(
        big.status?.error ?? "",
        /^needs 1099511627776 kB of memory; this node has \d+ kB available$/,
      );

      // a missing volume without a source
      const vol = [...spec.slice(0, 2), `volume ${tmp}/nope.img -`, ...spec.slice(2)];
      const missing = await run(shell, env, "start", "u-1", vol);
      assert.equal(missing.code, 1);
      assert.match(missing.status?.error ?? "", /volume .*nope\.img is missing and has no source/);

      // usage
      const usage = await run(shell, env, "status", "../x");
      assert.equal(usage.code, 2);
    } finally {
      for (const p of pids) killAll(p);
      await Deno.remove(tmp, { recursive: true });
    }
  });
}
