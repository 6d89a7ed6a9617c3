/**
 * A real PXE ROM fetches iPXE from our server: QEMU (SeaBIOS + the iPXE
 * option ROM of virtio-net) on a tap in the lab switch, dnsmasq in DHCP-only
 * mode pointing at undionly.kpxe on our TFTP server. Passes when our server
 * reports a complete undionly.kpxe transfer.
 */
import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { startOurServer } from "./lab_util.ts";

const UNDI = "/usr/lib/ipxe/undionly.kpxe";

function missing(): string | null {
  const lab = labSkipReason(["qemu-system-x86_64", "dnsmasq"]);
  if (lab) return lab;
  try {
    Deno.statSync(UNDI);
  } catch {
    return `missing ${UNDI}`;
  }
  return null;
}

Deno.test({
  name: "qemu: SeaBIOS PXE fetches undionly.kpxe from our TFTP server",
  ignore: missing() !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const SRV = "10.83.0.1";
    await using lab = await createLab("tftpq", [{ name: "srv", address: `${SRV}/24` }]);
    const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-qemu-" });
    try {
      const root = `${dir}/root`;
      await Deno.mkdir(root);
      await Deno.copyFile(UNDI, `${root}/undionly.kpxe`);
      const size = (await Deno.stat(UNDI)).size;
      // The VM's NIC: a tap on the lab switch's bridge.
      for (
        const cmd of [
          ["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"],
          ["ip", "link", "set", "tap0", "master", "br0", "up"],
        ]
      ) {
        const r = await lab.exec("sw", cmd);
        assert.equal(r.code, 0, r.stderr);
      }
      const server = await startOurServer(lab, "srv", { root, hostname: SRV, port: 69 });
      lab.spawn("srv", [
        "dnsmasq",
        "-k",
        "--conf-file=/dev/null",
        "--port=0",
        "--user=root",
        "--interface=eth0",
        "--bind-interfaces",
        "--dhcp-authoritative",
        "--no-ping",
        "--dhcp-range=10.83.0.50,10.83.0.99,255.255.255.0,1h",
        `--dhcp-boot=undionly.kpxe,,${SRV}`,
        `--dhcp-leasefile=${dir}/leases`,
        "--pid-file=",
      ]);
      lab.spawn("sw", [
        "qemu-system-x86_64",
        "-accel",
        "tcg",
        "-m",
        "256",
        "-smp",
        "1",
        "-nodefaults",
        "-nographic",
        "-serial",
        `file:${dir}/serial.log`,
        "-monitor",
        "none",
        "-no-reboot",
        "-netdev",
        "tap,id=n0,ifname=tap0,script=no,downscript=no",
        "-device",
        "virtio-net-pci,netdev=n0,mac=52:54:00:83:00:01",
        "-boot",
        "n",
      ]);
      const done = await server.waitFor((t) => t.file === "undionly.kpxe" && t.ok === true, 60_000);
      const serial = await Deno.readTextFile(`${dir}/serial.log`).catch(() => "");
      assert.ok(done, `no complete undionly.kpxe transfer; serial:\n${serial.slice(-2000)}`);
      assert.equal(done.bytes, size);
      // The client is the VM, with an address from dnsmasq's range.
      assert.match(String(done.ip), /^10\.83\.0\.([5-9][0-9])$/);
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
