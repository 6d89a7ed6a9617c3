/**
 * Why mesh sends Router Advertisements: a SeaBIOS + iPXE VM boots from
 * `mesh serve` alone on a lab switch (nothing else serves the segment: no
 * RA sender beside it). The iPXE "Configuring (net0 ...)" step, which waits
 * for IPv6 autoconfiguration, is timed from the serial console: from the
 * newline of the console line before it to the newline of its "ok". Without
 * any RA sender it takes ~16 s; with mesh's own RAs it takes well under 2 s
 * (asserted < 8 s, so a loaded machine does not make it flaky; the figure
 * is printed).
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { installLabBootFiles, startDaemon, stopDaemon, writeLabHost0 } from "../lib/mesh_daemon.ts";
import { createLab } from "../lib/netns.ts";
import {
  addTap,
  bootVm,
  configuringSteps,
  prepareBootAssets,
  qemuSkipReason,
} from "../lib/qemu.ts";

const SRV_IP = "10.96.0.1";
const VM = { mac: "52:54:00:96:00:01", uuid: "6d657368-0000-4000-8000-525400960001" };

Deno.test({
  name: `qemu: iPXE's "Configuring (net0)" ends at once with mesh serve alone (its own RAs)`,
  ignore: qemuSkipReason() !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-ra-qemu-" });
    await using lab = await createLab("raq", [{ name: "srv", address: `${SRV_IP}/24` }]);
    let daemon: ReturnType<typeof startDaemon> | undefined;
    try {
      const host0 = `${tmp}/host0`;
      const state = `${tmp}/state`;
      await writeLabHost0(host0, { state, srv: SRV_IP, pool: ["10.96.0.100", "10.96.0.199"] });
      await installLabBootFiles(state, await prepareBootAssets());
      daemon = startDaemon(lab, "srv", host0);
      await daemon.ready;

      const tap = await addTap(lab, "tra");
      const vm = await bootVm(lab, { firmware: "bios", tap, ...VM, timeoutMs: 600_000 });
      assert.ok(vm.ok, `VM did not report:\n${vm.serial.slice(-30).join("\n")}`);
      assert.equal(vm.fields?.id, nodeIdFor(VM).id);

      const steps = configuringSteps(vm.serial);
      assert.ok(steps.length >= 1, `no Configuring line:\n${vm.serial.join("\n")}`);
      const context = vm.serial.filter((l) => /Configuring|net0|Press Ctrl-B/.test(l)).join("\n");
      for (const st of steps) assert.match(st.line, /\.\.\. ok$/, context);
      const worst = Math.max(...steps.map((st) => st.s));
      console.log(
        `iPXE "Configuring (net0 ...)" with mesh serve alone: ` +
          steps.map((st) => `${st.s.toFixed(2)} s`).join(", ") +
          ` (VM QEMU start → marker ${(vm.ms / 1000).toFixed(1)} s)\n${context}`,
      );
      assert.ok(worst < 8, `Configuring took ${worst.toFixed(2)} s with mesh's RAs`);
    } finally {
      if (daemon) await stopDaemon(daemon).catch(() => {});
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
