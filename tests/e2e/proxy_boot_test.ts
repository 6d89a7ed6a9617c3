/**
 * End to end through proxyDHCP: dnsmasq already hands out the addresses on
 * the lab switch (the "network" mesh is plugged into), and `mesh serve` runs
 * in `auto` beside it with no address of its own, so it serves proxyDHCP
 * there (port 67 + the PXE boot server on UDP 4011) from an address it
 * leases from dnsmasq. A SeaBIOS + iPXE VM and an OVMF VM with its native
 * PXE (NIC ROM disabled, so it must be handed snponly.efi over TFTP first)
 * boot to their overlays with addresses from dnsmasq; the UEFI VM is booted
 * once per UEFI proxy strategy (`dhcp.proxy_uefi: port4011`, then
 * `option43`), mesh restarted with the other mesh.yaml between.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { copyTree } from "../config_corpus/tree.ts";
import {
  addLabMachine,
  type Daemon,
  EXAMPLE,
  installLabBootFiles,
  startDaemon,
  stopDaemon,
  waitForLog,
} from "../lib/mesh_daemon.ts";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import {
  addTap,
  bootVm,
  type BootVmResult,
  configuringSteps,
  prepareBootAssets,
  qemuSkipReason,
} from "../lib/qemu.ts";

const DNS_IP = "10.98.0.1";
const RANGE = /^10\.98\.0\.1\d\d$/;

const BIOS = { mac: "52:54:00:98:00:01", uuid: "6d657368-0000-4000-8000-525400980001" };
const UEFI = { mac: "52:54:00:98:00:02", uuid: "6d657368-0000-4000-8000-525400980002" };
const UEFI43 = { mac: "52:54:00:98:00:03", uuid: "6d657368-0000-4000-8000-525400980003" };

const skip = qemuSkipReason() ?? labSkipReason(["dnsmasq"]);

/**
 * A /host0 whose mesh.yaml leaves every interface in `auto` (no `interfaces:`
 * block) and carries writeLabHost0's boot settings; the default overlay holds
 * the marker `from-the-default-overlay`. No `mesh.e2e.online=` on the command
 * line: mesh's address on a proxy segment is only known once it is leased.
 */
async function writeProxyHost0(
  host0: string,
  state: string,
  proxyUefi: "port4011" | "option43",
): Promise<void> {
  await Deno.writeTextFile(
    `${host0}/mesh.yaml`,
    `# written by tests/e2e/proxy_boot_test.ts: auto mode beside dnsmasq
state_dir: ${state}
subnet_pool:
  - 10.122.0.0/16
dhcp:
  proxy_bios: option43
  proxy_uefi: ${proxyUefi}
boot:
  kernel: boot/vmlinuz
  initramfs: boot/initrd.gz
  modloop: boot/modloop-none
  cmdline: console=ttyS0
`,
  );
}

function explain(what: string, r: BootVmResult, d: Daemon): string {
  const logs = d.logs.slice(-40).map((l) => JSON.stringify(l)).join("\n");
  return `${what} did not report (${r.ms} ms):\n--- serial ---\n${
    r.serial.slice(-40).join("\n")
  }\n--- qemu stderr ---\n${r.stderr}\n--- mesh logs ---\n${logs}`;
}

Deno.test({
  name:
    "mesh serve auto beside dnsmasq: BIOS and native-PXE UEFI VMs boot through our proxyDHCP (UEFI in both strategies)",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const biosId = nodeIdFor(BIOS).id;
    const uefiId = nodeIdFor(UEFI).id;
    const uefi43Id = nodeIdFor(UEFI43).id;
    const tmp = await Deno.makeTempDir({ prefix: "mesh-e2e-proxy-" });
    await using lab = await createLab("pxy", [
      { name: "srv" },
      { name: "dns", address: `${DNS_IP}/24` },
    ]);
    // The existing network: dnsmasq hands out 10.98.0.100-199 and nothing else
    // (no boot options, no router advertisements: mesh is the one who knows
    // how to PXE-boot, and with no router answering its solicitation it sends
    // the RAs iPXE's "Configuring" step waits for itself).
    await startDnsmasq(lab, "dns", {
      dir: lab.dir,
      ranges: ["10.98.0.100,10.98.0.199,255.255.255.0,1h"],
    });
    const daemons: Daemon[] = [];
    try {
      const host0 = `${tmp}/host0`;
      const state = `${tmp}/state`;
      await copyTree(EXAMPLE, host0);
      await Deno.writeTextFile(
        `${host0}/machines/default/e2e-marker`,
        "from-the-default-overlay\n",
      );
      await Deno.writeTextFile(
        `${host0}/machines/default/manifest`,
        (await Deno.readTextFile(`${host0}/machines/default/manifest`)) +
          "\nO MODE=root:root:0644 SRC=/host0/machines/default/e2e-marker TGT=/etc/mesh-e2e-marker\n",
      );
      await addLabMachine(host0, "proxy-bios", biosId, "only-in-proxy-bios");
      await addLabMachine(host0, "proxy-uefi43", uefi43Id, "only-in-proxy-uefi43");
      await installLabBootFiles(state, await prepareBootAssets());

      const start = async (proxyUefi: "port4011" | "option43") => {
        await writeProxyHost0(host0, state, proxyUefi);
        const d = startDaemon(lab, "srv", host0);
        daemons.push(d);
        const info = await d.ready;
        const props = info.properties as { dhcp: string[]; proxy: string[] };
        assert.deepEqual(props.dhcp, [], "mesh must not serve addresses beside dnsmasq");
        const leased = await waitForLog(d, "address leased", { timeoutMs: 60_000 });
        const addr = (leased.properties as { address: string }).address.split("/")[0]!;
        assert.match(addr, RANGE, "mesh's own address comes from dnsmasq");
        const proxy = await waitForLog(d, "dhcp proxy started", { timeoutMs: 30_000 });
        assert.deepEqual(
          (proxy.properties as { strategies: unknown }).strategies,
          { bios: "option43", uefi: proxyUefi },
        );
        return d;
      };

      // Round 1: proxy_bios option43, proxy_uefi port4011.
      let d = await start("port4011");
      const bios = await bootVm(lab, {
        firmware: "bios",
        tap: await addTap(lab, "tb"),
        ...BIOS,
        timeoutMs: 600_000,
      });
      assert.ok(bios.ok, explain("BIOS VM", bios, d));
      assert.equal(bios.fields?.id, biosId);
      assert.equal(bios.fields?.overlay, "ok");
      assert.equal(bios.fields?.["node-id-file"], biosId);
      assert.equal(bios.fields?.marker, "only-in-proxy-bios");
      assert.match(bios.fields?.ip ?? "", RANGE);
      // No router on this network: mesh's own RAs end iPXE's IPv6 wait.
      const conf = configuringSteps(bios.serial);
      assert.ok(conf.length >= 1, "no iPXE Configuring line");
      const worst = Math.max(...conf.map((c) => c.s));
      console.log(`BIOS iPXE "Configuring" on the proxy segment: ${worst.toFixed(2)} s`);
      assert.ok(worst < 8, `Configuring took ${worst.toFixed(2)} s`);

      const uefi = await bootVm(lab, {
        firmware: "uefi",
        uefiNativePxe: true,
        tap: await addTap(lab, "tu"),
        ...UEFI,
        timeoutMs: 600_000,
      });
      assert.ok(uefi.ok, explain("UEFI VM (port4011)", uefi, d));
      assert.equal(uefi.fields?.id, uefiId);
      assert.equal(uefi.fields?.overlay, "ok");
      assert.equal(uefi.fields?.["node-id-file"], "default");
      assert.equal(uefi.fields?.marker, "from-the-default-overlay");
      assert.match(uefi.fields?.ip ?? "", RANGE);
      await stopDaemon(d);

      // Round 2: proxy_uefi option43 (boot file in the proxy OFFER).
      d = await start("option43");
      const uefi43 = await bootVm(lab, {
        firmware: "uefi",
        uefiNativePxe: true,
        tap: await addTap(lab, "tu43"),
        ...UEFI43,
        timeoutMs: 600_000,
      });
      assert.ok(uefi43.ok, explain("UEFI VM (option43)", uefi43, d));
      assert.equal(uefi43.fields?.id, uefi43Id);
      assert.equal(uefi43.fields?.overlay, "ok");
      assert.equal(uefi43.fields?.["node-id-file"], uefi43Id);
      assert.equal(uefi43.fields?.marker, "only-in-proxy-uefi43");
      assert.match(uefi43.fields?.ip ?? "", RANGE);

      console.log(
        `e2e proxy: BIOS (option43) ${bios.ms} ms, UEFI native PXE (port4011) ${uefi.ms} ms, ` +
          `UEFI native PXE (option43) ${uefi43.ms} ms (QEMU start → overlay unpacked)`,
      );
    } finally {
      for (const d of daemons) await stopDaemon(d).catch(() => {});
      await lab.cleanup();
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
