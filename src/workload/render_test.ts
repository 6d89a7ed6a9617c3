import assert from "node:assert/strict";
import { parseWorkloadConf, type Workload } from "../config/mod.ts";
import { isRealUuid, memoryMiB, nicMac, renderQemu, tapName } from "./mod.ts";

function workload(text: string): Workload {
  const r = parseWorkloadConf(text, "w.conf");
  assert.deepEqual(r.issues, []);
  return r.value!;
}

const MIN = "name=w1\nuuid=wl-test-1\nplatform.memory.size=64M\nplatform.cpu.threads=1\n";
const TAIL = (dir: string) => [
  "-serial",
  `file:${dir}/console.log`,
  "-display",
  "none",
  "-qmp",
  `unix:${dir}/qmp.sock,server=on,wait=off`,
  "-pidfile",
  `${dir}/qemu.pid`,
  "-daemonize",
];

Deno.test("render: the smallest workload, KVM with the host CPU", () => {
  const r = renderQemu({
    workload: workload(MIN),
    runDir: "/run/w/wl-test-1/",
    accel: "kvm",
    bridges: {},
  });
  assert.deepEqual(r.argv, [
    "qemu-system-x86_64",
    ...["-name", "w1", "-nodefaults", "-no-user-config", "-accel", "kvm", "-cpu", "host"],
    ...["-m", "64", "-smp", "1"],
    ...TAIL("/run/w/wl-test-1"),
  ]);
  assert.equal(r.pidFile, "/run/w/wl-test-1/qemu.pid");
  assert.equal(r.qmpSocket, "/run/w/wl-test-1/qmp.sock");
  assert.equal(r.console, "/run/w/wl-test-1/console.log");
  assert.deepEqual(r.taps, []);
});

Deno.test("render: TCG turns the host CPU into max and keeps a named model; no -daemonize on request", () => {
  const tcg = renderQemu({
    workload: workload(MIN),
    runDir: "/d",
    accel: "tcg",
    bridges: {},
    daemonize: false,
  });
  assert.deepEqual(tcg.argv.slice(5, 9), ["-accel", "tcg", "-cpu", "max"]);
  assert.ok(!tcg.argv.includes("-daemonize"));
  const model = renderQemu({
    workload: workload(MIN + "platform.cpu.mode=Penryn-v1\n"),
    runDir: "/d",
    accel: "tcg",
    bridges: {},
  });
  assert.deepEqual(model.argv.slice(5, 9), ["-accel", "tcg", "-cpu", "Penryn-v1"]);
});

Deno.test("render: -uuid only for a real UUID; memory in MiB rounded up; threads", () => {
  const real = "6F1C2A3B-0000-4000-8000-0123456789AB";
  const r = renderQemu({
    workload: workload(MIN.replace("wl-test-1", real).replace("64M", "4G").replace("=1\n", "=4\n")),
    runDir: "/d",
    accel: "kvm",
    bridges: {},
  });
  assert.deepEqual(r.argv.slice(1, 5), ["-name", "w1", "-uuid", real.toLowerCase()]);
  assert.deepEqual(r.argv.slice(r.argv.indexOf("-m"), r.argv.indexOf("-m") + 4), [
    "-m",
    "4096",
    "-smp",
    "4",
  ]);
  assert.ok(isRealUuid(real));
  assert.ok(!isRealUuid("qweflmqwe23"));
  assert.equal(memoryMiB(512 * 1024), 1);
  assert.equal(memoryMiB(2 ** 40), 1048576);
});

Deno.test("render: volumes (qcow2, raw, iso) and a comma in a path", () => {
  const r = renderQemu({
    workload: workload(
      MIN +
        "platform.volume.disk.type=qcow2\nplatform.volume.disk.path=/var/vm/a,b.qcow2\n" +
        "platform.volume.data.type=raw\nplatform.volume.data.path=/var/vm/data.img\n" +
        "platform.volume.boot.type=iso\nplatform.volume.boot.path=/tmp/alpine.iso\n" +
        "platform.volume.boot.source=/isos/alpine.iso\n",
    ),
    runDir: "/d",
    accel: "kvm",
    bridges: {},
  });
  const drives = r.argv.flatMap((a, i) => r.argv[i - 1] === "-drive" ? [a] : []);
  assert.deepEqual(drives, [
    "file=/var/vm/a,,b.qcow2,format=qcow2,if=virtio,id=disk",
    "file=/var/vm/data.img,format=raw,if=virtio,id=data",
    "file=/tmp/alpine.iso,format=raw,media=cdrom,readonly=on,id=boot",
  ]);
});

Deno.test("render: a NIC per network, on a tap with a deterministic locally administered MAC", () => {
  const w = workload(
    MIN + "platform.network.lan.mesh=manage\nplatform.network.san.mesh=storage\n" +
      "platform.network.san.mac=02:00:00:00:00:99\n",
  );
  const r = renderQemu({
    workload: w,
    runDir: "/d",
    accel: "kvm",
    bridges: { manage: "br456", storage: "br7" },
  });
  const lanMac = nicMac("wl-test-1", "lan");
  const lanTap = tapName("wl-test-1", "lan");
  const sanTap = tapName("wl-test-1", "san");
  const i = r.argv.indexOf("-netdev");
  assert.deepEqual(r.argv.slice(i, i + 8), [
    "-netdev",
    `tap,id=lan,ifname=${lanTap},script=no,downscript=no`,
    "-device",
    `virtio-net-pci,netdev=lan,mac=${lanMac}`,
    "-netdev",
    `tap,id=san,ifname=${sanTap},script=no,downscript=no`,
    "-device",
    "virtio-net-pci,netdev=san,mac=02:00:00:00:00:99",
  ]);
  assert.deepEqual(r.taps, [
    { ifname: lanTap, bridge: "br456", mac: lanMac },
    { ifname: sanTap, bridge: "br7", mac: "02:00:00:00:00:99" },
  ]);
  // stable, locally administered unicast, distinct per NIC and per workload
  assert.equal(nicMac("wl-test-1", "lan"), lanMac);
  assert.match(lanMac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  assert.equal(parseInt(lanMac.slice(0, 2), 16) & 3, 2);
  assert.notEqual(nicMac("wl-test-2", "lan"), lanMac);
  assert.match(lanTap, /^mw[0-9a-f]{8}$/);
  assert.notEqual(lanTap, sanTap);
  assert.throws(
    () => renderQemu({ workload: w, runDir: "/d", accel: "kvm", bridges: {} }),
    /no bridge for mesh "manage"/,
  );
});

Deno.test("render: console to a given file, or none", () => {
  const path = renderQemu({
    workload: workload(MIN + "console.path=/var/log/w1.log\n"),
    runDir: "/d",
    accel: "kvm",
    bridges: {},
  });
  assert.equal(path.argv[path.argv.indexOf("-serial") + 1], "file:/var/log/w1.log");
  const none = renderQemu({
    workload: workload(MIN + "console.serial=off\n"),
    runDir: "/d",
    accel: "kvm",
    bridges: {},
  });
  assert.equal(none.argv[none.argv.indexOf("-serial") + 1], "none");
  assert.equal(none.console, null);
});
