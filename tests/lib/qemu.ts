/**
 * @module
 * QEMU PXE test kit (the VM and asset parts live in src/lab/qemu_vm.ts and
 * src/lab/qemu_assets.ts, shared with `mesh lab --qemu`): real firmware (SeaBIOS or OVMF, with iPXE) network-boots
 * a small Debian kernel inside a lab built by tests/lib/netns.ts. Nothing here
 * touches the host's interfaces; QEMU runs in the lab's switch namespace on a
 * tap enslaved to br0, so the VM is one more machine on the lab's switch.
 *
 * API
 *
 * - `qemuSkipReason(): string | null` — why QEMU boots cannot run here (not
 *   root, no qemu-system-x86_64, iPXE, OVMF, /dev/net/tun, cpio, apt-get ...),
 *   else null. Use as `Deno.test({ ignore: qemuSkipReason() !== null, ... })`.
 * - `prepareBootAssets(): Promise<{ kernel, initrd, dir }>` — the Debian
 *   kernel (`apt-get download` of the package `linux-image-amd64` depends on)
 *   and an initramfs built from busybox-static, the NIC modules (virtio_net,
 *   e1000 and their dependencies, in load order) and src/lab/assets/{init,
 *   udhcpc.script}. Cached in /var/cache/mesh-e2e/<kernel-version>/<hash>/
 *   (`dir`, which holds `vmlinuz` and `initrd.gz`); the hash covers the init
 *   script, the udhcpc script, busybox and the kit format, so editing the init
 *   rebuilds. Safe to call from parallel test processes (file lock).
 * - `addTap(lab, name): Promise<string>` — a tap device on br0 in the switch
 *   namespace (`lab.ns("sw")`); returns its name (max 15 characters).
 * - `bootVm(lab, opts): Promise<BootVmResult>` — starts QEMU (TCG, 512 MB,
 *   `-nodefaults -nographic -serial stdio -no-reboot -boot n`) on `opts.tap`,
 *   reads the serial console as a stream of timestamped lines until the marker
 *   line (default "MESH-NODE") appears and the guest powers off, or until
 *   `timeoutMs` (default 120 s). QEMU is killed by PID and temp files removed.
 *   `firmware: "bios"` = SeaBIOS + QEMU's iPXE NIC ROM (gets the iPXE script
 *   straight away); `"uefi"` = OVMF with QEMU's iPXE EFI ROM, or with
 *   `uefiNativePxe: true` OVMF's own PXE (`romfile=`), which must be handed
 *   snponly.efi/ipxe.efi over TFTP (arch 7) before iPXE fetches the script.
 *   `nic: "e1000"` works with BIOS (OVMF has no native e1000 driver).
 *   Result: `ok`, `line`, `fields` (parsed marker line), `serial` ("[ 12.34]
 *   text", seconds since QEMU start), `ms` (QEMU start → marker), `stderr`.
 *   `serialFile` (or env MESH_QEMU_SERIAL_DIR) also writes the console to disk.
 *   Several VMs may boot at once in one lab (one tap each); budget ~10 s per
 *   BIOS and ~15 s per UEFI VM on an idle 2-core box, 2-3x that under load.
 * - Useful facts for the server under test: iPXE waits 2 s for proxyDHCP
 *   offers unless the reply carries option 175.176 = 1; relative names in a
 *   script resolve against the script's URL; the guest's udhcpc sends vendor
 *   class "udhcp 1.35.0" and no user class (a plain lease is right for it).
 * - `startMeshAdvertiser(lab)` — mesh's own IPv6 router advertisements (parts tests)
 * - `startRouterAdvertiser(lab)` — IPv6 router advertisements on the switch
 *   (dnsmasq, RA only, in `lab.ns("sw")`). iPXE otherwise waits ~16 s for
 *   IPv6 autoconfiguration on every "Configuring (net0)"; for the dnsmasq
 *   stand-in, which mesh is measured against. Stopped with the lab.
 * - `parseMarker(line, marker?)` — `key=value` fields of a marker line.
 *
 * What the guest does (src/lab/assets/init, Alpine-like): DHCP with udhcpc on
 * the BOOTIF= NIC, fetch `apkovl=` ({MAC}/{UUID} substituted once each) into a
 * tmpfs /sysroot, then print
 * `MESH-NODE id=<node id> mac=<mac> ip=<ip> overlay=<ok|failed>
 *  node-id-file=<etc/mesh/node-id|-> marker=<etc/mesh-e2e-marker|-> uptime=<s>`
 * (one line), fetch `mesh.e2e.online=<url>?id=<id>` when given, power off.
 * The kernel command line should carry `console=ttyS0` (the init also writes
 * its report to ttyS0 when it does not) and, for UEFI, `initrd=initrd.gz`.
 */
import { addTap as addTapOn } from "../../src/lab/mod.ts";
import type { Lab } from "./netns.ts";

export { type BootAssets, CACHE_ROOT, isStaticElf, prepareBootAssets } from "./qemu_assets.ts";
export {
  bootVm,
  type BootVmOptions,
  type BootVmResult,
  IPXE_DIR,
  OVMF_CODE,
  OVMF_VARS,
  parseMarker,
  qemuSkipReason,
} from "../../src/lab/mod.ts";

/** Creates tap `name` on the lab switch's br0 (QEMU attaches to it by name). */
export function addTap(lab: Lab, name: string): Promise<string> {
  return addTapOn(lab, name);
}

/**
 * mesh's own IPv6 router advertiser (src/ra) on `host`'s `ifname`, for tests
 * that run mesh's servers as parts rather than `mesh serve` (which sends them
 * itself): iPXE waits ~16 s for an RA in its "Configuring" step otherwise.
 * Resolves once it sends; the lab's cleanup stops it.
 */
export async function startMeshAdvertiser(lab: Lab, host = "srv", ifname = "eth0"): Promise<void> {
  const child = lab.spawn(host, [
    Deno.execPath(),
    "run",
    "-A",
    "--cached-only",
    RA_FIXTURE,
    "advertise",
    JSON.stringify({ ifname }),
  ], { stdout: "piped" });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`router advertiser did not start on ${host}/${ifname}`);
    seen += value;
  }
  reader.releaseLock();
  if (!(JSON.parse(seen.split("\n")[0]!) as { ready?: boolean }).ready) {
    throw new Error(`router advertiser did not start: ${seen}`);
  }
}

const RA_FIXTURE = new URL("../../src/ra/_advertiser_test_fixture.ts", import.meta.url).pathname;

/**
 * Sends IPv6 router advertisements on the lab switch (a ULA prefix on br0 and
 * dnsmasq with `ra-only`: no DHCPv4, no DHCPv6, no DNS), so iPXE finishes
 * IPv6 autoconfiguration at once instead of waiting for it. For the dnsmasq
 * stand-in only (the established servers it is measured against); mesh
 * sends its own.
 */
export async function startRouterAdvertiser(lab: Lab): Promise<void> {
  const r = await lab.exec("sw", [
    "ip",
    "addr",
    "add",
    "fd6d:6573:6800::1/64",
    "dev",
    "br0",
    "nodad",
  ]);
  if (r.code !== 0) throw new Error(`ip addr add on br0 failed: ${r.stderr.trim()}`);
  lab.spawn("sw", [
    "dnsmasq",
    "--keep-in-foreground",
    "--port=0",
    "--user=root",
    "--interface=br0",
    "--bind-interfaces",
    "--leasefile-ro",
    "--pid-file=",
    "--conf-file=/dev/null",
    "--enable-ra",
    "--dhcp-range=::,constructor:br0,ra-only",
  ]);
}

/** Seconds of a "[  12.34] text" console line. */
function stamp(line: string): number {
  return Number(/^\[\s*([\d.]+)\]/.exec(line)?.[1] ?? NaN);
}

/**
 * The "Configuring (net0 <mac>)... ok" step of every iPXE instance on the
 * console: its text, and the seconds from the console line before it.
 */
export function configuringSteps(serial: readonly string[]): { line: string; s: number }[] {
  const out: { line: string; s: number }[] = [];
  for (const [i, line] of serial.entries()) {
    if (i === 0 || !/Configuring \(net0 /.test(line)) continue;
    out.push({ line, s: stamp(line) - stamp(serial[i - 1]!) });
  }
  return out;
}
