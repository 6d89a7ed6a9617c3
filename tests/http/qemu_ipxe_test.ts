/**
 * iPXE judges the boot script: a QEMU VM (SeaBIOS + QEMU's iPXE NIC ROM)
 * DHCPs from dnsmasq (a stand-in for our DHCP), is pointed at our
 * `/boot.ipxe?mac=${net0/mac}&uuid=${uuid}`, runs the rendered script and
 * downloads kernel and initrd from our server. The "kernel" is ipxe.lkrn (a
 * valid bzImage that iPXE accepts), so no guest kernel download is needed;
 * the test ends once the initrd has been sent. QEMU is killed by PID.
 */
import assert from "node:assert/strict";
import { dnsmasqConf } from "../lib/stand_in.ts";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { createLab, hasCommand, labSkipReason } from "../lib/netns.ts";
import { startLabServer } from "./_lab_server.ts";

const LKRN = "/usr/lib/ipxe/ipxe.lkrn";
const ROM = "/usr/lib/ipxe/qemu/efi-virtio.rom";

function skipReason(): string | null {
  const lab = labSkipReason(["qemu-system-x86_64", "dnsmasq"]);
  if (lab !== null) return lab;
  for (const f of [LKRN, ROM]) {
    try {
      Deno.statSync(f);
    } catch {
      return `missing ${f}`;
    }
  }
  return hasCommand("dnsmasq") ? null : "missing dnsmasq";
}

const SKIP = skipReason();

async function serialSays(file: string, text: string): Promise<boolean> {
  try {
    return (await Deno.readTextFile(file)).includes(text);
  } catch {
    return false;
  }
}
const VM_MAC = "52:54:00:78:00:10";
const VM_UUID = "7e570000-0000-4000-8000-525400780010";
const TIMEOUT_MS = 90_000;

Deno.test({
  name: "e2e: iPXE in QEMU fetches its boot script, kernel and initrd from us",
  ignore: SKIP !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mesh-http-qemu-" });
    try {
      await Deno.mkdir(`${dir}/boot`);
      await Deno.mkdir(`${dir}/mirror`);
      await Deno.copyFile(LKRN, `${dir}/boot/vmlinuz-lts`);
      await Deno.writeFile(`${dir}/boot/initramfs-lts`, new Uint8Array(64 * 1024).fill(0x5a));
      await using lab = await createLab("hqm", [
        { name: "srv", address: "10.78.0.1/24" },
        { name: "vm" },
      ]);
      // IPv6 RA so iPXE does not wait ~15 s for IPv6 autoconfiguration
      await lab.exec("srv", ["ip", "addr", "add", "fd78::1/64", "dev", "eth0", "nodad"]);
      const srv = await startLabServer(lab, "srv", {
        hostname: "0.0.0.0",
        port: 80,
        publicBase: "http://10.78.0.1",
        mirror: `${dir}/mirror`,
        boot: `${dir}/boot`,
        kernelPath: "/boot/vmlinuz-lts",
        initrdPath: "/boot/initramfs-lts",
        // dnsmasq hands out the addresses: there is no lease of ours, so
        // the node is who its boot script query says (script mode)
        overlayAccess: "script",
        overlays: {},
        leases: {},
        log: true,
      });
      await Deno.writeTextFile(
        `${dir}/dnsmasq.conf`,
        dnsmasqConf({
          dir,
          range: ["10.78.0.50", "10.78.0.99"],
          ipxeBoot: "http://10.78.0.1/boot.ipxe?mac=${net0/mac}&uuid=${uuid}",
          ra: true,
        }),
      );
      lab.spawn("srv", [
        "dnsmasq",
        "--keep-in-foreground",
        `--conf-file=${dir}/dnsmasq.conf`,
      ]);
      // the VM's NIC is a tap bridged to the lab switch through the vm namespace
      for (
        const cmd of [
          ["ip", "link", "add", "vbr", "type", "bridge", "forward_delay", "0"],
          ["ip", "link", "set", "eth0", "master", "vbr"],
          ["ip", "tuntap", "add", "dev", "tap0", "mode", "tap"],
          ["ip", "link", "set", "tap0", "master", "vbr", "up"],
          ["ip", "link", "set", "vbr", "up"],
        ]
      ) {
        const r = await lab.exec("vm", cmd);
        assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
      }
      const qemu = lab.spawn("vm", [
        "qemu-system-x86_64",
        ...["-accel", "tcg", "-m", "128", "-smp", "1", "-uuid", VM_UUID],
        ...[
          "-nodefaults",
          "-nographic",
          "-display",
          "none",
          "-serial",
          `file:${dir}/serial.log`,
          "-no-reboot",
        ],
        ...["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"],
        // default romfile: QEMU's virtio NIC ROM, which is iPXE
        ...["-device", `virtio-net-pci,netdev=n0,mac=${VM_MAC}`],
        ...["-boot", "n"],
      ]);
      const requests = () => srv.logs.filter((l) => l.msg === "request");
      const deadline = Date.now() + TIMEOUT_MS;
      while (Date.now() < deadline) {
        if (requests().some((l) => l.path === "/boot/initramfs-lts" && l.status === 200)) break;
        if (await serialSays(`${dir}/serial.log`, "No bootable device")) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      try {
        qemu.kill("SIGKILL");
      } catch { /* already gone */ }
      await qemu.status;
      const seen = requests().map((l) => `${l.method} ${l.path} ${l.status}`);
      let serial = "";
      try {
        serial = await Deno.readTextFile(`${dir}/serial.log`);
      } catch { /* no output */ }
      console.log(seen.join("\n"));
      const ctx = `access log:\n${seen.join("\n")}\nserial:\n${serial.slice(-2000)}`;
      const id = nodeIdFor({ uuid: VM_UUID }).id;
      const script = requests().find((l) => l.path === "/boot.ipxe");
      assert.ok(script, `no boot script request\n${ctx}`);
      assert.equal(script.status, 200, ctx);
      // iPXE expanded ${uuid} and ${net0/mac}: the node is known by its UUID id
      assert.equal(script.nodeId, id, ctx);
      const kernel = requests().find((l) => l.path === "/boot/vmlinuz-lts" && l.status === 200);
      assert.ok(kernel, `kernel not fetched\n${ctx}`);
      assert.equal(kernel.bytes, (await Deno.stat(LKRN)).size);
      assert.equal(kernel.nodeId, id, ctx);
      const initrd = requests().find((l) => l.path === "/boot/initramfs-lts" && l.status === 200);
      assert.ok(initrd, `initrd not fetched\n${ctx}`);
      assert.equal(initrd.nodeId, id, ctx);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
