/**
 * End to end: `mesh serve` alone serves a lab switch; a SeaBIOS + iPXE VM and
 * an OVMF UEFI VM (firmware PXE → snponly.efi over TFTP → iPXE) PXE-boot
 * through our DHCP, TFTP and HTTP, boot a kernel whose initramfs behaves like
 * Alpine's (DHCP again, fetch apkovl=, unpack), and print their node id and a
 * file only their own overlay holds. Between the two boots the daemon is
 * killed with SIGKILL and started again on the same state directory.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import {
  addLabMachine,
  type Daemon,
  installLabBootFiles,
  memory,
  meshCommand,
  meshJson,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../lib/mesh_daemon.ts";
import { createLab } from "../lib/netns.ts";
import { addTap, bootVm, prepareBootAssets, qemuSkipReason } from "../lib/qemu.ts";

const SRV_IP = "10.93.0.1";

const BIOS = { mac: "52:54:00:93:00:01", uuid: "6d657368-0000-4000-8000-525400930001" };
const UEFI = { mac: "52:54:00:93:00:02", uuid: "6d657368-0000-4000-8000-525400930002" };

Deno.test({
  name: "mesh serve PXE-boots a BIOS and a UEFI VM end to end, surviving kill -9 between them",
  ignore: qemuSkipReason() !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const biosId = nodeIdFor(BIOS).id;
    const uefiId = nodeIdFor(UEFI).id;
    const tmp = await Deno.makeTempDir({ prefix: "mesh-e2e-" });
    await using lab = await createLab("e2e", [{ name: "srv", address: `${SRV_IP}/24` }]);
    const daemons: Daemon[] = [];
    try {
      const host0 = `${tmp}/host0`;
      const state = `${tmp}/state`;
      await writeLabHost0(host0, { state, srv: SRV_IP, pool: ["10.93.0.100", "10.93.0.199"] });
      await addLabMachine(host0, "e2e-bios", biosId, "only-in-e2e-bios");
      await installLabBootFiles(state, await prepareBootAssets());
      // mesh alone on the segment: it sends the router advertisements iPXE waits for.

      let d = startDaemon(lab, "srv", host0);
      daemons.push(d);
      const info = await d.ready;
      assert.deepEqual((info.properties as { dhcp: string[] }).dhcp, ["eth0"]);
      await new Promise((r) => setTimeout(r, 1000));
      const idle = memory(d.child.pid);

      // A second daemon on the same state directory refuses, naming the first.
      const second = await lab.exec("srv", meshCommand(host0, "serve"));
      assert.equal(second.code, 2);
      assert.match(second.stderr, new RegExp(`in use by mesh pid \\d+`));

      const biosTap = await addTap(lab, "tb");
      const bios = await bootVm(lab, {
        firmware: "bios",
        tap: biosTap,
        ...BIOS,
        timeoutMs: 600_000,
      });
      assert.ok(bios.ok, `BIOS VM did not report:\n${bios.serial.slice(-30).join("\n")}`);
      assert.equal(bios.fields?.id, biosId);
      assert.equal(bios.fields?.overlay, "ok");
      assert.equal(bios.fields?.["node-id-file"], biosId);
      assert.equal(bios.fields?.marker, "only-in-e2e-bios");
      assert.match(bios.fields?.ip ?? "", /^10\.93\.0\.1\d\d$/);

      const afterBios = memory(d.child.pid);
      // kill -9, then start again on the same state: the lease and node survive.
      d.child.kill("SIGKILL");
      await d.child.status;
      const leases = await meshJson(host0, ["dhcp", "leases"]) as { mac: string; ip: string }[];
      assert.ok(
        leases.some((l) => l.mac === BIOS.mac && l.ip === bios.fields?.ip),
        JSON.stringify(leases),
      );
      d = startDaemon(lab, "srv", host0);
      daemons.push(d);
      await d.ready;

      const uefiTap = await addTap(lab, "tu");
      const uefi = await bootVm(lab, {
        firmware: "uefi",
        uefiNativePxe: true,
        tap: uefiTap,
        ...UEFI,
        timeoutMs: 600_000,
      });
      assert.ok(uefi.ok, `UEFI VM did not report:\n${uefi.serial.slice(-30).join("\n")}`);
      assert.equal(uefi.fields?.id, uefiId);
      assert.equal(uefi.fields?.overlay, "ok");
      assert.equal(uefi.fields?.["node-id-file"], "default");
      assert.equal(uefi.fields?.marker, "from-the-default-overlay");

      const afterUefi = memory(d.child.pid);
      const nodes = await meshJson(host0, ["node", "list"]) as {
        id: string;
        mac: string;
        stage: string;
        stages: Record<string, number>;
      }[];
      const b = nodes.find((n) => n.id === biosId);
      const u = nodes.find((n) => n.id === uefiId);
      assert.ok(b && u, JSON.stringify(nodes));
      for (const n of [b, u]) {
        assert.ok(["apkovl", "online"].includes(n.stage), `${n.id} stage ${n.stage}`);
        for (const s of ["dhcp", "script", "kernel", "initrd", "apkovl"]) {
          assert.equal(typeof n.stages[s], "number", `${n.id} has a time for ${s}`);
        }
      }
      // Only the UEFI VM fetched iPXE from us over TFTP (QEMU's BIOS ROM is iPXE already).
      assert.equal(typeof u.stages.firmware, "number");
      assert.ok(u.stages.firmware! <= u.stages.script!);
      console.log(
        `e2e: BIOS VM ${bios.ms} ms, UEFI VM ${uefi.ms} ms (QEMU start → overlay unpacked); ` +
          `daemon RSS idle ${idle.rss} MiB, peak during BIOS boot ${afterBios.peak} MiB, ` +
          `after restart + UEFI boot ${afterUefi.rss} MiB (peak ${afterUefi.peak} MiB)`,
      );
    } finally {
      for (const d of daemons) await stopDaemon(d).catch(() => {});
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
