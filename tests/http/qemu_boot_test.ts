/**
 * Full network boot through our HTTP service: QEMU (SeaBIOS + iPXE ROM) gets
 * DHCP from dnsmasq (stand-in for our DHCP), runs OUR rendered boot script,
 * loads the Debian kernel and the kit's Alpine-like initramfs from us; the
 * init fetches the node's overlay from the apkovl= URL of our script with
 * busybox wget and reports online to our API. A second VM, unknown to the
 * catalog, gets the default overlay. Proxy-mode access policy ("script").
 */
import assert from "node:assert/strict";
import { dnsmasqConf } from "../lib/stand_in.ts";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import {
  addTap,
  bootVm,
  type BootVmResult,
  prepareBootAssets,
  qemuSkipReason,
  startMeshAdvertiser,
} from "../lib/qemu.ts";
import { startLabServer } from "./_lab_server.ts";

const SRV = "10.81.0.1";
const KNOWN = {
  mac: "52:54:00:81:00:01",
  uuid: "7e570000-0000-4000-8000-525400810001",
  tap: "thknown",
};
const UNKNOWN = { mac: "52:54:00:81:00:02", tap: "thunknown" };

async function makeOverlay(
  dir: string,
  name: string,
  files: Record<string, string>,
): Promise<string> {
  const tree = await Deno.makeTempDir({ dir, prefix: "ovl-" });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${tree}/${path.split("/").slice(0, -1).join("/")}`, { recursive: true });
    await Deno.writeTextFile(`${tree}/${path}`, content);
  }
  const file = `${dir}/ovl/${name}.tar.gz`;
  const out = await new Deno.Command("tar", { args: ["-czf", file, "-C", tree, "."] }).output();
  assert.equal(out.code, 0);
  return file;
}

function explain(r: BootVmResult): string {
  return `marker line missing; last serial lines:\n${r.serial.slice(-40).join("\n")}\n${r.stderr}`;
}

Deno.test({
  name:
    "e2e: VMs boot Linux from our boot script, kernel, initrd; the init fetches its overlay from us",
  ignore: labSkipReason(["dnsmasq", "tar"]) !== null || qemuSkipReason() !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const assets = await prepareBootAssets();
    const dir = await Deno.makeTempDir({ prefix: "mesh-http-boot-" });
    try {
      for (const d of ["boot", "mirror", "ovl"]) await Deno.mkdir(`${dir}/${d}`);
      await Deno.copyFile(assets.kernel, `${dir}/boot/vmlinuz`);
      await Deno.copyFile(assets.initrd, `${dir}/boot/initrd.gz`);
      const knownId = nodeIdFor({ uuid: KNOWN.uuid }).id;
      const unknownId = nodeIdFor({ mac: UNKNOWN.mac }).id;
      const token = crypto.randomUUID().slice(0, 8);
      const overlays: Record<string, { path: string; size: number; etag: string }> = {};
      for (
        const [key, marker] of [[knownId, `known-${token}`], [
          "default",
          `default-${token}`,
        ]] as const
      ) {
        const path = await makeOverlay(dir, key, {
          "etc/mesh-e2e-marker": `${marker}\n`,
          ...(key === "default" ? {} : { "etc/mesh/node-id": `${knownId}\n` }),
        });
        overlays[key] = { path, size: (await Deno.stat(path)).size, etag: `"${key}-${token}"` };
      }
      await using lab = await createLab("hqb", [{ name: "srv", address: `${SRV}/24` }]);
      const srv = await startLabServer(lab, "srv", {
        hostname: "0.0.0.0",
        port: 80,
        publicBase: `http://${SRV}`,
        mirror: `${dir}/mirror`,
        boot: `${dir}/boot`,
        kernelPath: "/boot/vmlinuz",
        initrdPath: "/boot/initrd.gz",
        extraCmdline: `console=ttyS0 mesh.e2e.online=http://${SRV}/api/v1/report/online`,
        overlayAccess: "script",
        overlays,
        leases: {},
        log: true,
      });
      await Deno.writeTextFile(
        `${dir}/dnsmasq.conf`,
        dnsmasqConf({
          dir,
          range: ["10.81.0.100", "10.81.0.200"],
          ipxeBoot: `http://${SRV}/boot.ipxe?mac=\${net0/mac}&uuid=\${uuid}`,
        }),
      );
      lab.spawn("srv", ["dnsmasq", "--keep-in-foreground", `--conf-file=${dir}/dnsmasq.conf`]);
      await addTap(lab, KNOWN.tap);
      await addTap(lab, UNKNOWN.tap);
      await startMeshAdvertiser(lab);
      const [known, unknown] = await Promise.all([
        bootVm(lab, { firmware: "bios", ...KNOWN, name: "known", timeoutMs: 600_000 }),
        bootVm(lab, { firmware: "bios", ...UNKNOWN, name: "unknown", timeoutMs: 600_000 }),
      ]);
      const access = srv.logs.filter((l) => l.msg === "request");
      const seen = access.map((l) => `${l.ip} ${l.method} ${l.path} ${l.status} ${l.nodeId}`).join(
        "\n",
      );
      assert.ok(known.ok, `known: ${explain(known)}\n${seen}`);
      assert.ok(unknown.ok, `unknown: ${explain(unknown)}\n${seen}`);
      // the known node got its own overlay, the other the default one
      assert.equal(known.fields?.id, knownId);
      assert.equal(known.fields?.overlay, "ok", known.line);
      assert.equal(known.fields?.marker, `known-${token}`);
      assert.equal(known.fields?.["node-id-file"], knownId);
      assert.equal(unknown.fields?.id, unknownId);
      assert.equal(unknown.fields?.overlay, "ok", unknown.line);
      assert.equal(unknown.fields?.marker, `default-${token}`);
      // every step came from us, attributed to the right node
      for (
        const [id, paths] of [[knownId, [
          "/boot.ipxe",
          "/boot/vmlinuz",
          "/boot/initrd.gz",
          `/apkovl/${knownId}.tar.gz`,
        ]], [unknownId, [
          "/boot.ipxe",
          "/boot/vmlinuz",
          "/boot/initrd.gz",
          `/apkovl/${unknownId}.tar.gz`,
        ]]] as const
      ) {
        for (const p of paths) {
          assert.ok(
            access.some((l) => l.path === p && l.status === 200 && l.nodeId === id),
            `${id} ${p}\n${seen}`,
          );
        }
        assert.ok(
          access.some((l) => l.path === "/api/v1/report/online" && l.nodeId === id),
          `${id} online\n${seen}`,
        );
      }
      assert.ok(!srv.logs.some((l) => l.msg === "overlay refused"), seen);
      console.log(
        `known: ${(known.ms / 1000).toFixed(1)} s, unknown: ${(unknown.ms / 1000).toFixed(1)} s`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
