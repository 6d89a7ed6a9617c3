import assert from "node:assert/strict";
import { parseWorkloadConf } from "../config/mod.ts";
import {
  parseRemoteStatus,
  planStart,
  shQuote,
  sourceUrl,
  supervisorCommand,
  tapName,
} from "./mod.ts";

Deno.test("sources: /isos/ files from the central node as the node reaches it; URLs as written", () => {
  assert.equal(
    sourceUrl({ kind: "isos", rel: "alpine.iso" }, "10.0.0.1"),
    "http://10.0.0.1/isos/alpine.iso",
  );
  assert.equal(
    sourceUrl({ kind: "isos", rel: "sub/a b+.iso" }, "mesh.lan", 8080),
    "http://mesh.lan:8080/isos/sub/a%20b%2B.iso",
  );
  assert.equal(sourceUrl({ kind: "isos", rel: "a.iso" }, "fd00::1"), "http://[fd00::1]/isos/a.iso");
  assert.equal(sourceUrl({ kind: "url", url: "https://x/y.iso" }, "10.0.0.1"), "https://x/y.iso");
});

Deno.test("start plan: the spec lines the supervisor reads", () => {
  const w = parseWorkloadConf(
    "name=w1\nuuid=u1\nplatform.memory.size=64M\nplatform.cpu.threads=2\n" +
      "platform.volume.a.type=raw\nplatform.volume.a.path=/v/a.img\nplatform.volume.a.source=a.img\n" +
      "platform.volume.b.type=iso\nplatform.volume.b.path=/v/b.iso\n" +
      "platform.network.lan.mesh=manage\n",
    "w1.conf",
  ).value!;
  const plan = planStart({
    workload: w,
    root: "/run/mesh/workloads/",
    accel: "kvm",
    bridges: { manage: "br456" },
    central: { host: "10.0.0.1", port: 80 },
  });
  assert.equal(plan.runDir, "/run/mesh/workloads/u1");
  assert.deepEqual(plan.spec.slice(0, 5), [
    "mem 65536",
    "cpus 2",
    "volume /v/a.img http://10.0.0.1/isos/a.img",
    "volume /v/b.iso -",
    `tap ${tapName("u1", "lan")} br456`,
  ]);
  assert.deepEqual(plan.spec.slice(5), plan.rendered.argv.map((a) => `arg ${a}`));
  assert.ok(plan.rendered.argv.includes("/run/mesh/workloads/u1/qemu.pid"));
  assert.throws(
    () =>
      planStart({
        workload: w,
        root: "/r",
        accel: "kvm",
        bridges: { manage: "br456" },
        central: null,
      }),
    /volume a: the node's address for the central node is not known/,
  );
});

Deno.test("the remote command quotes every word and installs the supervisor by rename", () => {
  assert.equal(shQuote("it's"), `'it'\\''s'`);
  const cmd = supervisorCommand("start", "u1", ["arg -name", "arg it's"]);
  assert.match(
    cmd,
    /^umask 077; r="\$\{MESH_WORKLOAD_ROOT:-\/run\/mesh\/workloads\}"; mkdir -p "\$r" && cat >/,
  );
  assert.match(cmd, /mv -f "\$r\/\.mesh-workload\.sh\.\$\$" "\$r\/mesh-workload\.sh" && exec sh /);
  assert.ok(cmd.endsWith(`'start' 'u1' 'arg -name' 'arg it'\\''s'`), cmd);
});

Deno.test("the supervisor's answer", () => {
  assert.deepEqual(
    parseRemoteStatus(
      'noise\n{"uuid":"u1","state":"running","pid":42,"memory_kb":1024,"uptime_s":5}\n',
    ),
    {
      state: "running",
      pid: 42,
      memoryKb: 1024,
      uptimeS: 5,
      error: null,
      warning: null,
      how: null,
      already: false,
    },
  );
  assert.equal(parseRemoteStatus('{"state":"stopped","pid":null,"how":"term"}')?.how, "term");
  assert.equal(parseRemoteStatus('{"state":"odd"}'), null);
  assert.equal(parseRemoteStatus("sh: not found"), null);
  assert.equal(parseRemoteStatus(""), null);
});
