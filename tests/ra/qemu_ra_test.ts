/**
 * Why mesh sends Router Advertisements: a SeaBIOS + iPXE VM boots from
 * `mesh serve` alone on a lab switch, with OUR advertiser (src/ra, started in
 * the server namespace by src/ra/_advertiser_test_fixture.ts, defaults:
 * router lifetime 0, no prefix) instead of the kit's dnsmasq RA sender. The
 * iPXE "Configuring (net0 ...)" step, which waits for IPv6
 * autoconfiguration, is timed from the serial console: from the newline of
 * the console line before it to the newline of its "ok". Without any RA
 * sender it takes ~16 s; with ours it should take well under 2 s (asserted
 * < 8 s, so a loaded machine does not make it flaky; the figure is printed).
 *
 * `MESH_RA_QEMU=off` runs the same boot with no RA sender at all and only
 * prints the figure (the comparison; the boot must still succeed).
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { installLabBootFiles, startDaemon, stopDaemon, writeLabHost0 } from "../lib/mesh_daemon.ts";
import { createLab } from "../lib/netns.ts";
import { addTap, bootVm, prepareBootAssets, qemuSkipReason } from "../lib/qemu.ts";
import { TextLineStream } from "../lib/lines.ts";

const FIXTURE = new URL("../../src/ra/_advertiser_test_fixture.ts", import.meta.url).pathname;
const SRV_IP = "10.96.0.1";
const VM = { mac: "52:54:00:96:00:01", uuid: "6d657368-0000-4000-8000-525400960001" };
const WITH_RA = Deno.env.get("MESH_RA_QEMU") !== "off";

/** Seconds of a "[  12.34] text" console line. */
function stamp(line: string): number {
  return Number(/^\[\s*([\d.]+)\]/.exec(line)?.[1] ?? NaN);
}

/**
 * The "Configuring (net0 <mac>)... ok" step of every iPXE instance on the
 * console: its text, and the seconds from the console line before it.
 */
function configuringSteps(serial: readonly string[]): { line: string; s: number }[] {
  const out: { line: string; s: number }[] = [];
  for (const [i, line] of serial.entries()) {
    if (i === 0 || !/Configuring \(net0 /.test(line)) continue;
    out.push({ line, s: stamp(line) - stamp(serial[i - 1]!) });
  }
  return out;
}

Deno.test({
  name: `qemu: iPXE's "Configuring (net0)" ends at once with mesh's own RAs${
    WITH_RA ? "" : " (MESH_RA_QEMU=off: without any RA sender)"
  }`,
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

      let adv: Deno.ChildProcess | undefined;
      let advOut: ReadableStreamDefaultReader<string> | undefined;
      if (WITH_RA) {
        adv = lab.spawn(
          "srv",
          [
            Deno.execPath(),
            "run",
            "-A",
            "--cached-only",
            FIXTURE,
            "advertise",
            '{"ifname":"eth0"}',
          ],
          { stdout: "piped", stderr: "inherit" },
        );
        advOut = adv.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
          .getReader();
        const ready = JSON.parse((await advOut.read()).value ?? "{}");
        assert.equal(ready.ready, true, "advertiser did not start");
      }
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
        `iPXE "Configuring (net0 ...)" ${WITH_RA ? "with mesh's RAs" : "WITHOUT any RA sender"}: ` +
          steps.map((st) => `${st.s.toFixed(2)} s`).join(", ") +
          ` (VM QEMU start → marker ${(vm.ms / 1000).toFixed(1)} s)\n${context}`,
      );

      if (adv && advOut) {
        adv.kill("SIGTERM");
        let stats: Record<string, number> = {};
        for (let r = await advOut.read(); !r.done; r = await advOut.read()) {
          const o = JSON.parse(r.value);
          if (o.closed) stats = o.stats;
        }
        await adv.status;
        console.log(`advertiser: ${JSON.stringify(stats)}`);
        assert.ok(worst < 8, `Configuring took ${worst.toFixed(2)} s with our RAs`);
        // iPXE solicits, and the answer is what ended its wait.
        assert.ok(stats.solicitations! >= 1 && stats.solicited! >= 1, JSON.stringify(stats));
        assert.equal(stats.sendFailures, 0);
      }
    } finally {
      if (daemon) await stopDaemon(daemon).catch(() => {});
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
