/**
 * Proves the QEMU PXE kit against a stand-in server that is not ours (dnsmasq
 * for DHCP/TFTP/RA, busybox httpd for HTTP): a BIOS VM and a UEFI VM (OVMF's
 * own PXE → snponly.efi over TFTP → iPXE → script) boot the kit's kernel and
 * initramfs, fetch their overlay by {MAC} and report the marker line.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { createLab, hasCommand, labSkipReason, run } from "./netns.ts";
import { prepareStandInRoot, startStandIn, writeStandInOverlay } from "./stand_in.ts";
import {
  addTap,
  bootVm,
  type BootVmResult,
  isStaticElf,
  parseMarker,
  prepareBootAssets,
  qemuSkipReason,
  startRouterAdvertiser,
} from "./qemu.ts";

const INIT = new URL("../../src/lab/assets/init", import.meta.url).pathname;

/** Runs the init's node id rule under busybox sh against fake sysfs files. */
async function initNodeId(uuid: string | null, mac: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-nodeid-" });
  try {
    await Deno.mkdir(`${dir}/net/eth7`, { recursive: true });
    await Deno.writeTextFile(`${dir}/net/eth7/address`, `${mac}\n`);
    if (uuid !== null) await Deno.writeTextFile(`${dir}/product_uuid`, `${uuid}\n`);
    const out = await new Deno.Command("busybox", {
      args: ["sh", INIT],
      env: {
        MESH_INIT_MODE: "node-id",
        MESH_UUID_FILE: `${dir}/product_uuid`,
        MESH_NET_DIR: `${dir}/net`,
        IF: "eth7",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout).trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "qemu kit: the init's node id rule matches nodeIdFor",
  ignore: !hasCommand("busybox"),
  async fn() {
    const mac = "52:54:00:AB:cd:01";
    const uuid = "7E570000-0000-4000-8000-525400110101";
    assert.equal(await initNodeId(uuid, mac), nodeIdFor({ uuid, mac }).id);
    assert.equal(nodeIdFor({ uuid, mac }).from, "uuid");
    for (
      const none of [
        null,
        "",
        "00000000-0000-0000-0000-000000000000",
        "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
      ]
    ) {
      const want = nodeIdFor({ uuid: none, mac });
      assert.equal(want.from, "mac");
      assert.equal(await initNodeId(none, mac), want.id, `uuid ${none}`);
    }
    const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-fA-F]{${n}}$`));
    const uuidArb = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((p) => p.join("-"));
    const macArb = fc.array(hex(2), { minLength: 6, maxLength: 6 }).map((p) => p.join(":"));
    await fc.assert(
      fc.asyncProperty(fc.option(uuidArb), macArb, async (u, m) => {
        assert.equal(await initNodeId(u, m), nodeIdFor({ uuid: u, mac: m }).id);
      }),
      { numRuns: 30 },
    );
  },
});

Deno.test("qemu kit: parseMarker reads the key=value fields of the marker line", () => {
  const f = parseMarker(
    "[  7.70] MESH-NODE id=05358938 mac=52:54:00:11:01:01 ip=10.77.0.150 overlay=ok " +
      "node-id-file=- marker=hello_world uptime=2.32",
  );
  assert.deepEqual(f, {
    id: "05358938",
    mac: "52:54:00:11:01:01",
    ip: "10.77.0.150",
    overlay: "ok",
    "node-id-file": "-",
    marker: "hello_world",
    uptime: "2.32",
  });
});

Deno.test("qemu kit: isStaticElf tells static from dynamic executables", () => {
  // minimal ELF64 LE header with one program header at 64
  const elf = (phType: number) => {
    const b = new Uint8Array(64 + 56);
    const v = new DataView(b.buffer);
    b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    v.setBigUint64(0x20, 64n, true);
    v.setUint16(0x36, 56, true);
    v.setUint16(0x38, 1, true);
    v.setUint32(64, phType, true);
    return b;
  };
  assert.equal(isStaticElf(elf(1)), true); // PT_LOAD only
  assert.equal(isStaticElf(elf(3)), false); // PT_INTERP
  assert.equal(isStaticElf(new TextEncoder().encode("#!/bin/sh\n")), false);
  assert.equal(isStaticElf(Deno.readFileSync(Deno.execPath())), false); // deno is dynamic
});

const SRV = "10.77.0.1";

function explain(r: BootVmResult): string {
  return `marker line missing; last serial lines:\n${r.serial.slice(-40).join("\n")}\n${r.stderr}`;
}

interface VmCase {
  readonly label: string;
  readonly firmware: "bios" | "uefi";
  readonly mac: string;
  readonly uuid?: string;
  readonly tap: string;
  readonly nic?: "virtio" | "e1000";
  readonly uefiNativePxe?: boolean;
  /** Which Alpine placeholder names its overlay. */
  readonly by: "{MAC}" | "{UUID}";
  /** Leave console=ttyS0 off the command line (the init must still reach the serial port). */
  readonly noConsole?: boolean;
  readonly online?: boolean;
}

const VMS: readonly VmCase[] = [
  {
    label: "bios",
    firmware: "bios",
    mac: "52:54:00:77:01:01",
    tap: "tbios",
    by: "{MAC}",
    online: true,
  },
  {
    label: "bios-e1000",
    firmware: "bios",
    mac: "52:54:00:77:01:02",
    uuid: "7E570000-0000-4000-8000-525400770102",
    tap: "te1000",
    nic: "e1000",
    by: "{UUID}",
  },
  {
    label: "uefi-pxe",
    firmware: "uefi",
    mac: "52:54:00:77:02:01",
    uuid: "7e570000-0000-4000-8000-525400770201",
    tap: "tuefi",
    uefiNativePxe: true,
    by: "{MAC}",
    online: true,
  },
  {
    label: "uefi-rom",
    firmware: "uefi",
    mac: "52:54:00:77:02:02",
    uuid: "7e570000-0000-4000-8000-525400770202",
    tap: "tuefirom",
    by: "{MAC}",
    noConsole: true,
  },
];

/** Per-VM iPXE script; boot.ipxe chains to it by MAC. */
function vmScript(vm: VmCase): string {
  return [
    "#!ipxe",
    `kernel http://${SRV}/vmlinuz initrd=initrd.gz${vm.noConsole ? "" : " console=ttyS0"} quiet ` +
    `BOOTIF=01-\${net0/mac:hexhyp} apkovl=http://${SRV}/ovl/${vm.by}.tar.gz` +
    (vm.online ? ` mesh.e2e.online=http://${SRV}/cgi-bin/online` : ""),
    `initrd http://${SRV}/initrd.gz`,
    "boot",
    "",
  ].join("\n");
}

Deno.test({
  name:
    "qemu kit: BIOS, BIOS e1000, UEFI native PXE and UEFI iPXE ROM VMs boot from dnsmasq + httpd",
  ignore: labSkipReason(["dnsmasq", "busybox", "tar"]) !== null || qemuSkipReason() !== null,
  async fn() {
    const assets = await prepareBootAssets();
    const root = await Deno.makeTempDir({ prefix: "mesh-qemu-kit-" });
    try {
      await using lab = await createLab("qk", [{ name: "srv", address: `${SRV}/24` }]);
      await prepareStandInRoot(root, assets);
      await Deno.mkdir(`${root}/www/cgi-bin`);
      // records what the guests report as "online"
      await Deno.writeTextFile(
        `${root}/www/cgi-bin/online`,
        `#!/bin/sh\necho "$QUERY_STRING" >> ${root}/online.log\n` +
          `printf 'Content-Type: text/plain\\r\\n\\r\\nok\\n'\n`,
        { mode: 0o755 },
      );
      await Deno.chmod(`${root}/www/cgi-bin/online`, 0o755);
      await Deno.writeTextFile(
        `${root}/www/boot.ipxe`,
        `#!ipxe\nchain http://${SRV}/vm-\${net0/mac:hexhyp}.ipxe\n`,
      );
      const token = crypto.randomUUID().slice(0, 8);
      for (const vm of VMS) {
        const id = nodeIdFor({ uuid: vm.uuid ?? null, mac: vm.mac }).id;
        await Deno.writeTextFile(
          `${root}/www/vm-${vm.mac.replaceAll(":", "-")}.ipxe`,
          vmScript(vm),
        );
        // Alpine substitutes the raw sysfs values (lower-case) for {MAC}/{UUID}
        const name = vm.by === "{MAC}" ? vm.mac : vm.uuid!.toLowerCase();
        await writeStandInOverlay(root, name, {
          "etc/mesh-e2e-marker": `${vm.label} ${token}\n`,
          "etc/mesh/node-id": `${id}\n`,
        });
        await addTap(lab, vm.tap);
      }
      await startStandIn(lab, { srv: SRV, range: ["10.77.0.100", "10.77.0.200"], root });
      await startRouterAdvertiser(lab);

      const results = await Promise.all(
        VMS.map((vm) => bootVm(lab, { ...vm, name: vm.label, timeoutMs: 600_000 })),
      );
      const dnsmasqLog = await Deno.readTextFile(`${root}/dnsmasq.log`);
      const online = await Deno.readTextFile(`${root}/online.log`).catch(() => "");
      for (const [i, vm] of VMS.entries()) {
        const r = results[i]!;
        assert.ok(r.ok, `${vm.label}: ${explain(r)}`);
        const want = nodeIdFor({ uuid: vm.uuid ?? null, mac: vm.mac });
        assert.equal(want.from, vm.uuid ? "uuid" : "mac");
        assert.equal(r.fields?.id, want.id, r.line);
        assert.equal(r.fields?.mac, vm.mac);
        assert.match(r.fields?.ip ?? "", /^10\.77\.0\.(1\d\d|200)$/);
        assert.equal(r.fields?.overlay, "ok", r.line);
        // whitespace in the file becomes "_" so the line still splits on spaces
        assert.equal(r.fields?.marker, `${vm.label}_${token}`);
        assert.equal(r.fields?.["node-id-file"], want.id);
        assert.equal(online.includes(`id=${want.id}\n`), vm.online === true, `${vm.label} online`);
        // iPXE configured IPv6 from the kit's router advertisements (no 16 s wait for them)
        assert.ok(r.serial.some((l) => l.includes("net0: fd6d:6573:6800:")), `${vm.label} RA`);
        console.log(`${vm.label}: marker after ${(r.ms / 1000).toFixed(1)} s: ${r.line}`);
      }
      // The native-PXE UEFI VM really went through the firmware's own PXE: iPXE over TFTP.
      assert.match(dnsmasqLog, /sent \S*snponly\.efi to 10\.77\.0\.\d+/);
      assert.ok(results[2]!.serial.some((l) => l.includes("iPXE")), "iPXE ran on the UEFI VM");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: "qemu kit: a VM that never prints the marker is killed at the timeout",
  ignore: labSkipReason() !== null || qemuSkipReason() !== null,
  async fn() {
    await using lab = await createLab("qt", []);
    await addTap(lab, "tnone");
    // no DHCP server on this switch: iPXE keeps trying until the kit gives up
    const r = await bootVm(lab, {
      firmware: "bios",
      mac: "52:54:00:77:09:01",
      tap: "tnone",
      timeoutMs: 6_000,
    });
    assert.equal(r.ok, false);
    assert.equal(r.line, undefined);
    assert.ok(r.serial.some((l) => l.includes("iPXE")), r.serial.join("\n"));
    assert.match(r.serial[0] ?? "", /^\[ +\d+\.\d\d\] \S/);
    const left = await run(["ip", "netns", "pids", lab.ns("sw")]);
    assert.equal(left.stdout.trim(), "", "QEMU is gone when bootVm returns");
  },
});
