/**
 * Node events from the running service, judged with busybox udhcpc posing as
 * PXE firmware (vendor class PXEClient, option 93 arch 0) and as iPXE (user
 * class "iPXE"): each netboot DISCOVER is "discovered", every ACK is "dhcp"
 * with the boot file it was given.
 */
import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { startFixture, udhcpcArgs, udhcpcEvents, writeUdhcpcScript } from "./_fixture_client.ts";

Deno.test({
  name: "service events: PXE firmware is discovered, each ACK reports the boot file or script",
  ignore: labSkipReason(["udhcpc"]) !== null,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using lab = await createLab("sev", [{ name: "srv", address: "10.90.0.1/24" }, {
      name: "cli",
    }]);
    try {
      const srv = await startFixture(lab, "srv", {
        db: `${dir}/mesh.db`,
        interfaces: [{ name: "eth0", serverIp: "10.90.0.1", subnet: "10.90.0.0/24" }],
        pools: [{ subnet: "10.90.0.0/24", start: "10.90.0.100", end: "10.90.0.120" }],
        boot: { httpPort: 8080 },
        events: true,
        probeTimeoutMs: 100,
      });
      const script = await writeUdhcpcScript(dir);
      const mac = (await lab.exec("cli", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
      const udhcpc = (extra: string[]) =>
        lab.exec("cli", [...udhcpcArgs(script, 5), ...extra], { timeoutMs: 30_000 });

      // The firmware's DHCP: PXEClient, x86 BIOS.
      const pxe = await udhcpc(["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"]);
      const ip = udhcpcEvents(pxe.stdout).find((e) => e.event === "bound")?.ip;
      assert.ok(ip, pxe.stderr);
      // iPXE's DHCP: user class "iPXE" (its plain option 77 form).
      const ipxe = await udhcpc(["-x", "0x4d:69505845"]);
      assert.equal(udhcpcEvents(ipxe.stdout).find((e) => e.event === "bound")?.ip, ip);
      // A plain client: no boot fields, still a "dhcp" event, no "discovered".
      const plain = await udhcpc([]);
      assert.equal(udhcpcEvents(plain.stdout).find((e) => e.event === "bound")?.ip, ip);
      await srv.waitStats((s) => s.acks >= 3);
      for (let i = 0; i < 20 && srv.events.length < 5; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }

      const seen = srv.events.map((e) => ({
        stage: e.stage,
        mac: e.mac,
        ip: e.ip,
        firmware: e.detail.firmware,
        boot: e.detail.boot,
      }));
      assert.deepEqual(seen, [
        { stage: "discovered", mac, ip, firmware: "bios", boot: undefined },
        { stage: "dhcp", mac, ip, firmware: "bios", boot: "undionly.kpxe" },
        { stage: "discovered", mac, ip, firmware: "ipxe", boot: undefined },
        {
          stage: "dhcp",
          mac,
          ip,
          firmware: "ipxe",
          boot: "http://10.90.0.1:8080/boot.ipxe?mac=${net0/mac}&uuid=${uuid}",
        },
        { stage: "dhcp", mac, ip, firmware: "unknown", boot: undefined },
      ]);
      assert.ok(srv.events.every((e) => typeof e.detail.reason === "string"));
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
