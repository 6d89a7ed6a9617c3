import assert from "node:assert/strict";
import type { Machine, Network } from "../config/mod.ts";
import { meshAddress, meshMac } from "./address.ts";
import { meshOverlay, nodeMeshConfs } from "./node_files.ts";
import { NODE_PATHS, NODE_SCRIPT, renderNodeConf } from "./node_script.ts";

function machine(folder: string, id: string, groups: string[] = []): Machine {
  return {
    folder,
    dir: `/h/machines/${folder}`,
    id,
    manifest: [],
    groups,
    packages: [],
    skip: false,
  };
}
const MACHINES = [
  machine("default", "default"),
  machine("storage-1", "10eff964", ["storage"]),
  machine("compute-1", "5e2d9a41"),
];
const net = (name: string, vni: number, nodes: string[] | null): Network => ({
  file: `/h/network/${name}.conf`,
  name,
  prefix: `fd42:0:0:${vni}::/64`,
  vni,
  port: 8000,
  mtu: 1450,
  nodes,
});
const NETS = [
  net("manage", 456, null),
  net("storage", 457, ["group:storage"]),
  net("lab", 458, ["feedf00d", "5e2d9a41"]),
];

Deno.test("node confs: a machine gets the meshes that include it, with its own address", () => {
  const s = nodeMeshConfs(NETS, MACHINES, MACHINES[1]!, "10.11.0.1");
  assert.deepEqual(s.map((c) => c.name), ["default", "manage", "storage"]);
  const storage = s[2]!;
  assert.equal(storage.address, meshAddress("fd42:0:0:457::/64", "storage", "10eff964"));
  assert.equal(storage.mac, meshMac("storage", "10eff964"));
  assert.equal(storage.central, "10.11.0.1");
  assert.equal(storage.central6, "fd42:0:0:457::1");
  assert.equal(storage.prefix64, "fd42:0000:0000:0457");
  assert.equal(storage.only, "");
  const c = nodeMeshConfs(NETS, MACHINES, MACHINES[2]!, "");
  assert.deepEqual(c.map((x) => x.name), ["default", "manage", "lab"]);
});

Deno.test("node confs: the default overlay computes addresses on the node; only= for bare ids", () => {
  const d = nodeMeshConfs(NETS, MACHINES, MACHINES[0]!, "");
  assert.deepEqual(d.map((c) => [c.name, c.address, c.only]), [
    ["default", "", ""],
    ["manage", "", ""],
    ["lab", "", "feedf00d"], // 5e2d9a41 has a folder of its own
  ]);
});

Deno.test("mesh overlay: confs, script, service, its runlevel link and iproute2", () => {
  const o = meshOverlay(NETS, MACHINES, MACHINES[1]!, "10.11.0.1")!;
  assert.deepEqual(o.files.map((f) => f.path), [
    "etc/mesh/network/default.conf",
    "etc/mesh/network/manage.conf",
    "etc/mesh/network/storage.conf",
    NODE_PATHS.script,
    NODE_PATHS.service,
  ]);
  assert.deepEqual(o.packages, ["iproute2"]);
  assert.deepEqual(o.links, [["etc/runlevels/default/mesh-net", "/etc/init.d/mesh-net"]]);
  const conf = o.files[2]!.text;
  assert.match(conf, /^vni=457$/m);
  assert.match(conf, /^central=10\.11\.0\.1$/m);
  const none = [net("default", 1, ["group:nope"])];
  assert.equal(meshOverlay(none, MACHINES, MACHINES[2]!, ""), null);
});

const SH = (() => {
  for (const p of ["/usr/bin/busybox", "/bin/busybox"]) {
    try {
      Deno.statSync(p);
      return [p, "sh"];
    } catch { /* next */ }
  }
  return ["sh"];
})();

Deno.test("node script: its address and MAC rule (busybox sh) is the TypeScript one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-meshnet-sh-" });
  try {
    await Deno.mkdir(`${dir}/network`);
    await Deno.writeTextFile(`${dir}/meshnet.sh`, NODE_SCRIPT);
    const ids = ["feedf00d", "10eff964", "00000000", "abcdef12"];
    const confs = nodeMeshConfs(NETS, MACHINES, MACHINES[0]!, "10.0.0.1");
    for (const c of confs) {
      await Deno.writeTextFile(
        `${dir}/network/${c.name}.conf`,
        renderNodeConf(c),
      );
    }
    for (const id of ids) {
      await Deno.writeTextFile(`${dir}/node-id`, `${id}\n`);
      const out = await new Deno.Command(SH[0]!, {
        args: [...SH.slice(1), `${dir}/meshnet.sh`, "show"],
        env: { MESH_NETWORK_DIR: `${dir}/network`, MESH_ETC: dir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
      const want = confs
        .filter((c) => c.only === "" || c.only.split(" ").includes(id))
        .map((c) =>
          [
            c.name,
            meshAddress(c.prefix, c.name, id),
            meshMac(c.name, id),
            `vxlan${c.vni}`,
            `br${c.vni}`,
          ].join(" ")
        );
      // the sh address is unabbreviated: compare canonical forms
      const canon = (l: string) => {
        const [name, addr, ...rest] = l.split(" ");
        const groups = addr!.split(":").map((g) => parseInt(g, 16).toString(16));
        return [name, groups.join(":"), ...rest].join(" ");
      };
      const expand = (l: string) => {
        const [name, addr, ...rest] = l.split(" ");
        return [name, expandIpv6(addr!), ...rest].join(" ");
      };
      assert.deepEqual(lines.map(canon).sort(), want.map(expand).sort(), `id ${id}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every group, no leading zeros, no "::": the shape `canon` makes of the sh output. */
function expandIpv6(text: string): string {
  const [head, tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16)).join(":");
}
