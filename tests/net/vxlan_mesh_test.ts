/**
 * Cluster networks end to end: `mesh serve` in a central namespace and two
 * nodes on one switch with static underlay addresses and leases seeded in
 * the store. The daemon makes `vxlan<vni>`/`br<vni>` with `<prefix>::1` and
 * serves the member list; each node runs the script of its compiled overlay
 * under busybox sh (busybox's wget, sed, grep, as on Alpine; iproute2's ip
 * and bridge). node1 reaches node2's mesh address and the central node's;
 * when node2 is taken out of the mesh (nodes= edited, SIGHUP), and again
 * when it is forgotten (`mesh node forget`), node1's tunnel stops flooding
 * to node2's underlay address. A `br<vni>` that is not mesh's is left alone.
 */
import assert from "node:assert/strict";
import { meshAddress } from "../../src/meshnet/mod.ts";
import { type Daemon, meshCommand, startDaemon, stopDaemon } from "../lib/mesh_daemon.ts";
import { createLab, type Lab, labSkipReason, run } from "../lib/netns.ts";
import { seedNodes } from "../lib/seed_nodes.ts";

const BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const skip = labSkipReason(["bridge", "tar", "ping"]);
if (skip) console.warn(`vxlan_mesh_test skipped: ${skip}`);

const PREFIX = "fd42:79::/64";
const VNI = 790;
const CENTRAL = "10.79.0.1";
const NODES = [
  { host: "n1", folder: "node-1", id: "c0ffee11", mac: "02:00:00:79:00:11", ip: "10.79.0.11" },
  { host: "n2", folder: "node-2", id: "c0ffee12", mac: "02:00:00:79:00:12", ip: "10.79.0.12" },
];

async function writeHost0(dir: string, state: string) {
  await Deno.mkdir(`${dir}/machines/default`, { recursive: true });
  await Deno.mkdir(`${dir}/network`);
  await Deno.writeTextFile(
    `${dir}/mesh.yaml`,
    `state_dir: ${state}
interfaces:
  eth0:
    mode: server
    address: ${CENTRAL}/24
    pool: { start: 10.79.0.100, end: 10.79.0.200 }
`,
  );
  await Deno.writeTextFile(`${dir}/machines/default/UUID`, "default\n");
  await Deno.writeTextFile(`${dir}/machines/default/manifest`, "");
  for (const n of NODES) {
    await Deno.mkdir(`${dir}/machines/${n.folder}`);
    await Deno.writeTextFile(`${dir}/machines/${n.folder}/UUID`, `${n.id}\n`);
    await Deno.writeTextFile(`${dir}/machines/${n.folder}/manifest`, "");
  }
  await writeMesh(dir, NODES.map((n) => n.folder));
  // a mesh whose bridge name the central node already uses for something else
  await Deno.writeTextFile(
    `${dir}/network/other.conf`,
    `name=other\nprefix=fd42:7a::/64\nvni=${VNI + 1}\nnodes=${NODES[0]!.folder}\n`,
  );
}

function writeMesh(dir: string, members: readonly string[]) {
  return Deno.writeTextFile(
    `${dir}/network/lab.conf`,
    `name=lab\nprefix=${PREFIX}\nvni=${VNI}\nnodes=${members.join(" ")}\n`,
  );
}

/** A PATH whose text tools and wget are busybox's, as on an Alpine node. */
async function alpineLikePath(dir: string): Promise<string> {
  const bin = `${dir}/bin`;
  await Deno.mkdir(bin);
  if (BUSYBOX) {
    for (
      const tool of [
        "wget",
        "sed",
        "grep",
        "cut",
        "sort",
        "tr",
        "head",
        "sha256sum",
        "sleep",
        "timeout",
      ]
    ) {
      await Deno.symlink(BUSYBOX, `${bin}/${tool}`);
    }
  }
  return `${bin}:${Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`;
}

async function until(what: string, fn: () => Promise<boolean>, ms = 12_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function floods(lab: Lab, host: string): Promise<string[]> {
  const r = await lab.exec(host, ["bridge", "fdb", "show", "dev", `vxlan${VNI}`]);
  return [...r.stdout.matchAll(/^00:00:00:00:00:00 dst (\S+)/gm)].map((m) => m[1]!);
}

Deno.test({
  name: "meshes: nodes join over VXLAN, reach each other and ::1, and a node taken out is dropped",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createLab("vx", [
      { name: "c", address: `${CENTRAL}/24` },
      ...NODES.map((n) => ({ name: n.host, address: `${n.ip}/24` })),
    ]);
    // the test's own iproute2 check: a kernel without vxlan skips, it does not fail
    const probe = await lab.exec("n1", [
      ...["ip", "link", "add", "vxprobe", "type", "vxlan", "id", "1", "dstport", "4789"],
    ]);
    if (probe.code !== 0) {
      console.warn(`vxlan_mesh_test skipped: no vxlan in this kernel: ${probe.stderr.trim()}`);
      return;
    }
    await lab.exec("n1", ["ip", "link", "del", "vxprobe"]);
    const host0 = `${lab.dir}/host0`;
    const state = `${lab.dir}/state`;
    await Deno.mkdir(state, { mode: 0o700 });
    await writeHost0(host0, state);
    seedNodes(state, NODES);
    assert.equal(
      (await lab.exec("c", ["ip", "link", "add", `br${VNI + 1}`, "type", "bridge"])).code,
      0,
    );
    const path = await alpineLikePath(lab.dir);

    let d: Daemon | undefined;
    const scriptLog: string[] = [];
    try {
      d = startDaemon(lab, "c", host0);
      await d.ready;
      const up = d.logs.find((r) =>
        r.message === "mesh network up" && (r.properties as { mesh: string }).mesh === "lab"
      );
      assert.ok(up, JSON.stringify(d.logs.filter((r) => String(r.message).includes("mesh"))));
      const refused = d.logs.find((r) =>
        r.message === "mesh network not set up" &&
        (r.properties as { mesh: string }).mesh === "other"
      );
      assert.match(String((refused?.properties as { error?: string })?.error), /is not mesh's/);

      // each node unpacks its own compiled overlay and runs the script from it
      for (const n of NODES) {
        const root = `${lab.dir}/${n.host}-root`;
        await Deno.mkdir(root);
        const tar = await new Deno.Command("tar", {
          args: ["-xzf", `${state}/apkovl/${n.id}.tar.gz`, "-C", root],
        }).output();
        assert.equal(tar.code, 0);
        const conf = await Deno.readTextFile(`${root}/etc/mesh/network/lab.conf`);
        assert.match(conf, new RegExp(`^address=${meshAddress(PREFIX, "lab", n.id)}$`, "m"));
        assert.match(conf, new RegExp(`^central=${CENTRAL.replaceAll(".", "\\.")}$`, "m"));
        // only the lab mesh: the default mesh is the same code path, twice the links
        await Deno.remove(`${root}/etc/mesh/network/default.conf`);
        await Deno.remove(`${root}/etc/mesh/network/other.conf`).catch(() => {});
        const child = lab.spawn(
          n.host,
          [...(BUSYBOX ? [BUSYBOX, "sh"] : ["sh"]), `${root}/etc/mesh/meshnet.sh`, "run"],
          {
            stderr: "piped",
            env: {
              PATH: path,
              MESH_NETWORK_DIR: `${root}/etc/mesh/network`,
              MESH_ETC: `${root}/etc/mesh`,
              MESH_POLL_SECONDS: "1",
            },
          },
        );
        (async () => {
          for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) {
            scriptLog.push(`${n.host}: ${t}`);
          }
        })();
      }

      const n2Address = meshAddress(PREFIX, "lab", NODES[1]!.id);
      const ping = (to: string) => async () =>
        (await lab.exec("n1", ["ping", "-6", "-c", "1", "-W", "1", to])).code === 0;
      await until("node1 pings the central node's fd42:79::1", ping("fd42:79::1"));
      await until(`node1 pings node2 at ${n2Address}`, ping(n2Address));
      assert.deepEqual((await floods(lab, "n1")).sort(), [CENTRAL, NODES[1]!.ip]);
      assert.deepEqual((await floods(lab, "c")).sort(), NODES.map((n) => n.ip));

      // node2 leaves the mesh: nodes= without it, and a reload
      await writeMesh(host0, [NODES[0]!.folder]);
      d.child.kill("SIGHUP");
      await until(
        "node1 stops flooding to node2",
        async () => !(await floods(lab, "n1")).includes(NODES[1]!.ip),
      );
      assert.deepEqual(await floods(lab, "n1"), [CENTRAL]);
      assert.deepEqual(await floods(lab, "c"), [NODES[0]!.ip]);
      assert.equal(await ping(n2Address)(), false);

      // back in the mesh, then forgotten (`mesh node forget`): out again
      await writeMesh(host0, NODES.map((n) => n.folder));
      d.child.kill("SIGHUP");
      await until("node2 is back", async () => (await floods(lab, "n1")).includes(NODES[1]!.ip));
      const forget = await run([...meshCommand(host0, "node", "forget", "-n", NODES[1]!.id)]);
      assert.equal(forget.code, 0, forget.stderr);
      await until(
        "node1 stops flooding to the forgotten node2",
        async () => !(await floods(lab, "n1")).includes(NODES[1]!.ip),
      );
      assert.deepEqual(await floods(lab, "c"), [NODES[0]!.ip]);

      // a stop takes the central node's links away
      assert.equal((await stopDaemon(d)).code, 0);
      d = undefined;
      const left = await lab.exec("c", ["ip", "-o", "link", "show"]);
      assert.doesNotMatch(left.stdout, new RegExp(`vxlan${VNI}|br${VNI}:|vxlan4000`));
      assert.match(left.stdout, new RegExp(`br${VNI + 1}:`), "the operator's bridge stays");
    } catch (e) {
      console.error(`node scripts said:\n${scriptLog.join("")}`);
      throw e;
    } finally {
      if (d) await stopDaemon(d);
    }
  },
});
