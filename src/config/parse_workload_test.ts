import assert from "node:assert/strict";
import { parseMemorySize, parseVolumeSource, parseWorkloadConf } from "./parse_workload.ts";
import { checkWorkloads, meshBridge } from "./load_workloads.ts";
import type { Network, Workload } from "./types.ts";

const FULL = `# a VM
name=qemutest1
uuid=qweflmqwe23
platform.memory.size=4G
platform.cpu.threads=2
platform.cpu.mode=Penryn-v1
platform.volume.boot.type=iso
platform.volume.boot.path=/tmp/alpine.iso
platform.volume.boot.source=http://host0/isos/alpine.iso
platform.volume.disk.type=qcow2
platform.volume.disk.path=/var/lib/vm/disk.qcow2
platform.volume.disk.source=/isos/disk.qcow2
platform.volume.scratch.type=raw
platform.volume.scratch.path="/var/lib/vm/scratch.img"
platform.volume.scratch.source=scratch.img
platform.network.lan.mesh=manage
platform.network.wan.mesh=manage
platform.network.wan.mac=02:AA:bb:cc:dd:ee
console.serial=on
console.path=/var/log/vm.log
`;

/** `line message` of every issue. */
function msgs(text: string): string[] {
  return parseWorkloadConf(text, "W").issues.map((i) => `${i.line ?? "-"} ${i.message}`);
}

const BASE = "name=w\nuuid=u1\nplatform.memory.size=64M\nplatform.cpu.threads=1\n";

Deno.test("workload conf: every key", () => {
  const r = parseWorkloadConf(FULL, "W");
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.value, {
    file: "W",
    name: "qemutest1",
    uuid: "qweflmqwe23",
    memory: { text: "4G", bytes: 4 * 2 ** 30 },
    cpu: { threads: 2, mode: "Penryn-v1" },
    volumes: [
      {
        id: "boot",
        type: "iso",
        path: "/tmp/alpine.iso",
        source: { kind: "url", url: "http://host0/isos/alpine.iso" },
      },
      {
        id: "disk",
        type: "qcow2",
        path: "/var/lib/vm/disk.qcow2",
        source: { kind: "isos", rel: "disk.qcow2" },
      },
      {
        id: "scratch",
        type: "raw",
        path: "/var/lib/vm/scratch.img",
        source: { kind: "isos", rel: "scratch.img" },
      },
    ],
    networks: [{ id: "lan", mesh: "manage" }, {
      id: "wan",
      mesh: "manage",
      mac: "02:aa:bb:cc:dd:ee",
    }],
    console: { serial: true, path: "/var/log/vm.log" },
    at: { name: 2, uuid: 3, mesh: { lan: 16, wan: 17 } },
  });
});

Deno.test("workload conf: defaults (cpu mode host, serial console on, no volumes or NICs)", () => {
  const r = parseWorkloadConf(BASE, "W");
  assert.deepEqual(r.issues, []);
  assert.equal(r.value?.cpu.mode, "host");
  assert.deepEqual(r.value?.console, { serial: true });
  assert.deepEqual(r.value?.volumes, []);
  assert.deepEqual(r.value?.networks, []);
  const off = parseWorkloadConf(BASE + "console.serial=off\n", "W");
  assert.deepEqual(off.value?.console, { serial: false });
});

Deno.test("workload conf: missing required keys, each named", () => {
  assert.deepEqual(msgs("# nothing\n"), [
    "- missing required key name",
    "- missing required key uuid",
    "- missing required key platform.memory.size",
    "- missing required key platform.cpu.threads",
  ]);
  assert.equal(parseWorkloadConf("", "W").value, null);
});

Deno.test("workload conf: malformed lines, unknown keys with hints, repeats, empty values", () => {
  assert.deepEqual(
    msgs(
      BASE +
        "just words\nplatform.memory.sise=1G\nplatform.volume.boot.typ=iso\nname=again\nconsole.path=\n" +
        "platform.cpu.mod=host\nfoo=1\nplatform.network.lan.mash=x\n",
    ),
    [
      '5 expected key=value, got "just words"',
      '6 unknown key "platform.memory.sise" (did you mean "platform.memory.size"?)',
      '7 unknown key "platform.volume.boot.typ" (did you mean "platform.volume.boot.type"?)',
      "8 name is already set at line 1",
      "9 console.path has no value",
      '10 unknown key "platform.cpu.mod" (did you mean "platform.cpu.mode"?)',
      '11 unknown key "foo"',
      '12 unknown key "platform.network.lan.mash" (did you mean "platform.network.lan.mesh"?)',
    ],
  );
});

Deno.test("workload conf: bad values at their lines", () => {
  const cases: [string, RegExp][] = [
    ["name=two words", /^1 name must be one word/],
    ["uuid=a/b", /^2 uuid must be one word/],
    ["platform.memory.size=4GB", /^3 platform\.memory\.size must be a number and K, M, G or T/],
    ["platform.memory.size=4g", /^3 platform\.memory\.size/],
    ["platform.memory.size=0M", /^3 platform\.memory\.size/],
    ["platform.memory.size=G", /^3 platform\.memory\.size/],
    ["platform.cpu.threads=0", /^4 platform\.cpu\.threads must be a positive whole number/],
    ["platform.cpu.threads=-1", /^4 platform\.cpu\.threads/],
    ["platform.cpu.threads=1.5", /^4 platform\.cpu\.threads/],
  ];
  const lines = BASE.trimEnd().split("\n");
  for (const [replacement, want] of cases) {
    const key = replacement.split("=")[0]!;
    const text = lines.map((l) => l.startsWith(`${key}=`) ? replacement : l).join("\n") + "\n";
    const got = msgs(text);
    assert.equal(got.length, 1, `${replacement}: ${got}`);
    assert.match(got[0]!, want, replacement);
    assert.equal(parseWorkloadConf(text, "W").value, null);
  }
  for (
    const [extra, want] of [
      ["platform.cpu.mode=ho st", /^5 platform\.cpu\.mode must be a QEMU CPU model/],
      ["console.serial=yes", /^5 console\.serial must be on or off/],
      ["console.path=rel/log", /^5 console\.path must be an absolute path/],
      [
        "console.serial=off\nconsole.path=/x.log",
        /^6 console\.path is set but console\.serial is off/,
      ],
    ] as const
  ) {
    const got = msgs(BASE + extra + "\n");
    assert.equal(got.length, 1, `${extra}: ${got}`);
    assert.match(got[0]!, want);
  }
});

Deno.test("workload conf: volume errors", () => {
  const v = (s: string) => msgs(BASE + s);
  assert.deepEqual(v("platform.volume.boot.type=iso\n"), [
    "5 volume boot: missing platform.volume.boot.path",
  ]);
  assert.deepEqual(v("platform.volume.boot.path=/a.iso\n"), [
    "5 volume boot: missing platform.volume.boot.type",
  ]);
  assert.match(
    v("platform.volume.boot.type=vmdk\nplatform.volume.boot.path=/a\n")[0]!,
    /^5 platform\.volume\.boot\.type must be qcow2, iso or raw, got "vmdk"/,
  );
  assert.match(
    v("platform.volume.boot.type=qcow\nplatform.volume.boot.path=/a\n")[0]!,
    /did you mean "qcow2"/,
  );
  for (const bad of ["tmp/a.iso", "/a/../b", "/a b", "/dir/"]) {
    const got = v(`platform.volume.boot.type=iso\nplatform.volume.boot.path=${bad}\n`);
    assert.match(got[0]!, /^6 platform\.volume\.boot\.path must/, bad);
  }
  assert.deepEqual(
    v(
      "platform.volume.a.type=raw\nplatform.volume.a.path=/x\n" +
        "platform.volume.b.type=raw\nplatform.volume.b.path=/x\n",
    ),
    ["8 platform.volume.b.path /x is also volume a's"],
  );
  for (
    const bad of ["ftp://h/x", "/etc/passwd", "../x.iso", "/isos/../x", "/isos/.hidden", "a b"]
  ) {
    const got = v(
      `platform.volume.boot.type=iso\nplatform.volume.boot.path=/a\nplatform.volume.boot.source=${bad}\n`,
    );
    assert.match(got[0]!, /^7 platform\.volume\.boot\.source must be an http\(s\) URL/, bad);
  }
  assert.match(
    v("platform.volume.9x.type=raw\n")[0]!,
    /^5 volume id "9x" must be a letter then/,
  );
});

Deno.test("workload conf: network errors", () => {
  assert.deepEqual(msgs(BASE + "platform.network.lan.mac=02:00:00:00:00:01\n"), [
    "5 network lan: missing platform.network.lan.mesh (the mesh to attach to)",
  ]);
  assert.match(msgs(BASE + "platform.network.lan.mesh=a b\n")[0]!, /^5 .*must be a mesh name/);
  for (const bad of ["01:00:00:00:00:01", "02:00:00:00:00", "zz:00:00:00:00:01"]) {
    const got = msgs(BASE + `platform.network.lan.mesh=m\nplatform.network.lan.mac=${bad}\n`);
    assert.match(got[0]!, /^6 platform\.network\.lan\.mac must be a unicast MAC/, bad);
  }
});

Deno.test("memory sizes and volume sources", () => {
  assert.equal(parseMemorySize("512K"), 512 * 1024);
  assert.equal(parseMemorySize("500M"), 500 * 2 ** 20);
  assert.equal(parseMemorySize("1T"), 2 ** 40);
  assert.equal(parseMemorySize("4096G"), 4096 * 2 ** 30);
  for (const bad of ["", "4", "4 G", "4GiB", "0K", "-1G"]) assert.equal(parseMemorySize(bad), null);
  assert.deepEqual(parseVolumeSource("https://example.org/a.iso"), {
    kind: "url",
    url: "https://example.org/a.iso",
  });
  assert.deepEqual(parseVolumeSource("/isos/sub/a.iso"), { kind: "isos", rel: "sub/a.iso" });
  assert.deepEqual(parseVolumeSource("a.iso"), { kind: "isos", rel: "a.iso" });
  for (const bad of ["/isos/", "/boot/a", "x/../y", "/isos/a//b", "http://"]) {
    assert.equal(parseVolumeSource(bad), null, bad);
  }
});

function parsed(file: string, text: string): Workload {
  const r = parseWorkloadConf(text, file);
  assert.deepEqual(r.issues, []);
  return r.value!;
}

Deno.test("workloads across files: name = file name, unique names and uuids, meshes exist", () => {
  const nets: Network[] = [
    {
      file: "network/manage.conf",
      name: "manage",
      prefix: "fd00::/64",
      vni: 456,
      port: 8000,
      mtu: 1450,
      nodes: null,
    },
  ];
  assert.equal(meshBridge(nets[0]!), "br456");
  const issues: { file: string; line?: number; message: string }[] = [];
  const good = parsed(
    "a.conf",
    BASE.replace("name=w", "name=a") + "platform.network.n.mesh=manage\n",
  );
  const ok = checkWorkloads(
    [
      {
        base: "b",
        workload: parsed("b.conf", BASE.replace("name=w", "name=b").replace("u1", "u2")),
      },
      { base: "a", workload: good },
      {
        base: "c",
        workload: parsed("c.conf", BASE.replace("name=w", "name=x").replace("u1", "u3")),
      },
      { base: "d", workload: parsed("d.conf", BASE.replace("name=w", "name=d")) },
      {
        base: "e",
        workload: parsed(
          "e.conf",
          BASE.replace("name=w", "name=e").replace("u1", "u5") +
            "platform.network.n.mesh=manag\n",
        ),
      },
    ],
    nets,
    issues,
  );
  assert.deepEqual(ok.map((w) => w.name), ["a", "b"]);
  assert.deepEqual(issues.map((i) => `${i.file}:${i.line} ${i.message}`), [
    'c.conf:1 name "x" must match the file name (c.conf)',
    "d.conf:2 uuid u1 is also used by a.conf",
    'e.conf:5 no mesh "manag" in network/*.conf (did you mean "manage"?)',
  ]);
});
