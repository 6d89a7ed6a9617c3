/**
 * @module
 * QEMU PXE test kit: real firmware (SeaBIOS or OVMF, with iPXE) network-boots
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
 *   e1000 and their dependencies, in load order) and tests/e2e/assets/{init,
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
 * What the guest does (tests/e2e/assets/init, Alpine-like): DHCP with udhcpc on
 * the BOOTIF= NIC, fetch `apkovl=` ({MAC}/{UUID} substituted once each) into a
 * tmpfs /sysroot, then print
 * `MESH-NODE id=<node id> mac=<mac> ip=<ip> overlay=<ok|failed>
 *  node-id-file=<etc/mesh/node-id|-> marker=<etc/mesh-e2e-marker|-> uptime=<s>`
 * (one line), fetch `mesh.e2e.online=<url>?id=<id>` when given, power off.
 * The kernel command line should carry `console=ttyS0` (the init also writes
 * its report to ttyS0 when it does not) and, for UEFI, `initrd=initrd.gz`.
 */
import { hasCommand, type Lab } from "./netns.ts";
import { exists } from "./qemu_assets.ts";

export { type BootAssets, CACHE_ROOT, isStaticElf, prepareBootAssets } from "./qemu_assets.ts";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
export const IPXE_DIR = "/usr/lib/ipxe";

export interface BootVmOptions {
  readonly firmware: "bios" | "uefi";
  readonly mac: string;
  /** SMBIOS system UUID (`-uuid`); without it the guest has none (node id from the MAC). */
  readonly uuid?: string;
  /** Tap device from `addTap`. */
  readonly tap: string;
  /** Default 120 000. */
  readonly timeoutMs?: number;
  /** Default "MESH-NODE". */
  readonly marker?: string;
  /** Default "virtio". */
  readonly nic?: "virtio" | "e1000";
  /** UEFI only: disable QEMU's iPXE ROM so OVMF's own PXE runs and must chainload iPXE. */
  readonly uefiNativePxe?: boolean;
  /** VM name for QEMU (`-name`); default derived from the MAC. */
  readonly name?: string;
  /**
   * Also write the timestamped serial lines to this file (CI artifacts).
   * Default: `$MESH_QEMU_SERIAL_DIR/<name>.serial` when that variable is set.
   */
  readonly serialFile?: string;
}

export interface BootVmResult {
  /** True when the marker line was seen. */
  readonly ok: boolean;
  /** The marker line, from the marker on. */
  readonly line?: string;
  /** Parsed key=value fields of the marker line. */
  readonly fields?: Record<string, string>;
  /** Serial console lines as "[  12.34] text", seconds since QEMU start. */
  readonly serial: string[];
  /** QEMU start → marker line (or → end when there was none), in ms. */
  readonly ms: number;
  /** QEMU's stderr (diagnostics), trimmed. */
  readonly stderr: string;
}

/** Why QEMU PXE boots cannot run on this machine, or null. */
export function qemuSkipReason(): string | null {
  if (Deno.build.os !== "linux") return "QEMU labs need Linux";
  if (Deno.uid() !== 0) return "QEMU labs need root (netns, tap)";
  for (
    const c of ["ip", "qemu-system-x86_64", "apt-get", "apt-cache", "dpkg-deb", "cpio", "gzip"]
  ) {
    if (!hasCommand(c)) return `missing command: ${c}`;
  }
  for (const f of [`${IPXE_DIR}/undionly.kpxe`, `${IPXE_DIR}/snponly.efi`, OVMF_CODE, OVMF_VARS]) {
    if (!exists(f)) return `missing file: ${f}`;
  }
  if (!exists("/dev/net/tun")) return "missing /dev/net/tun";
  return null;
}

/** Creates tap `name` on the lab switch's br0 (QEMU attaches to it by name). */
export async function addTap(lab: Lab, name: string): Promise<string> {
  if (name.length > 15) throw new RangeError(`tap name too long: ${name}`);
  for (
    const cmd of [
      ["ip", "tuntap", "add", "dev", name, "mode", "tap"],
      ["ip", "link", "set", name, "master", "br0", "up"],
    ]
  ) {
    const r = await lab.exec("sw", cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.trim()}`);
  }
  return name;
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

/** `key=value` fields of a marker line (words without "=" are skipped). */
export function parseMarker(line: string, marker = "MESH-NODE"): Record<string, string> {
  const at = line.indexOf(marker);
  const rest = at < 0 ? line : line.slice(at + marker.length);
  const fields: Record<string, string> = {};
  for (const word of rest.trim().split(/\s+/)) {
    const eq = word.indexOf("=");
    if (eq > 0) fields[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return fields;
}

/** Boots one VM and waits for its marker line (see the module comment). */
export async function bootVm(lab: Lab, opts: BootVmOptions): Promise<BootVmResult> {
  const marker = opts.marker ?? "MESH-NODE";
  const name = opts.name ?? `vm-${opts.mac.replaceAll(":", "")}`;
  const serialDir = Deno.env.get("MESH_QEMU_SERIAL_DIR");
  const serialFile = opts.serialFile ?? (serialDir ? `${serialDir}/${name}.serial` : undefined);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const nic = opts.nic ?? "virtio";
  const tmp = await Deno.makeTempDir({ prefix: "mesh-qemu-" });
  const args = [
    "-name",
    name,
    "-accel",
    "tcg",
    "-m",
    "512",
    "-smp",
    "1",
    "-nodefaults",
    "-nographic",
    "-serial",
    "stdio",
    "-no-reboot",
    "-boot",
    "n",
    "-netdev",
    `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`,
    "-device",
    `${nic === "e1000" ? "e1000" : "virtio-net-pci"},netdev=n0,mac=${opts.mac}` +
    (opts.firmware === "uefi" && opts.uefiNativePxe ? ",romfile=" : ""),
  ];
  if (opts.uuid) args.push("-uuid", opts.uuid);
  if (opts.firmware === "uefi") {
    // OVMF writes its variable store: each VM gets its own copy.
    const vars = `${tmp}/vars.fd`;
    await Deno.copyFile(OVMF_VARS, vars);
    args.push(
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${vars}`,
    );
  }

  const t0 = performance.now();
  const child = lab.spawn("sw", ["qemu-system-x86_64", ...args], {
    stdout: "piped",
    stderr: "piped",
  });
  const serial: string[] = [];
  let line: string | undefined;
  let markerMs: number | undefined;
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  };
  const deadline = setTimeout(kill, timeoutMs);
  let grace: ReturnType<typeof setTimeout> | undefined;
  const stderrText = new Response(child.stderr).text().catch(() => "");
  try {
    for await (const [ms, text] of serialLines(child.stdout, t0)) {
      serial.push(`[${(ms / 1000).toFixed(2).padStart(7)}] ${text}`);
      const at = text.indexOf(marker);
      if (line === undefined && at >= 0) {
        line = text.slice(at);
        markerMs = ms;
        // The guest still reports "online" and powers off; give it a moment, not forever.
        grace = setTimeout(kill, 60_000); // a healthy guest powers off itself, sooner
      }
    }
    await child.status;
  } finally {
    clearTimeout(deadline);
    if (grace !== undefined) clearTimeout(grace);
    kill();
    await child.status.catch(() => undefined);
    await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
  }
  const stderr = (await stderrText).trim();
  if (serialFile !== undefined) {
    await Deno.writeTextFile(serialFile, serial.join("\n") + "\n" + (stderr ? `${stderr}\n` : ""));
  }
  const ms = Math.round(markerMs ?? performance.now() - t0);
  return line === undefined
    ? { ok: false, serial, ms, stderr }
    : { ok: true, line, fields: parseMarker(line, marker), serial, ms, stderr };
}

/**
 * Splits the console byte stream into clean text lines, each with the time
 * (ms since `t0`) its newline arrived. Firmware and iPXE draw with ANSI
 * escapes and rewrite progress with "\r"; only the last rewrite is kept.
 */
async function* serialLines(
  stream: ReadableStream<Uint8Array>,
  t0: number,
): AsyncGenerator<[number, string]> {
  const decoder = new TextDecoder();
  let buf = "";
  const clean = (raw: string) => {
    // deno-lint-ignore no-control-regex
    const plain = raw.replace(/\x1b\[[0-9;?=>]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>c]/g, "");
    const parts = plain.split("\r").filter((p) => p.trim() !== "");
    // deno-lint-ignore no-control-regex
    return (parts[parts.length - 1] ?? "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "").trimEnd();
  };
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const text = clean(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (text !== "") yield [performance.now() - t0, text];
    }
  }
  const rest = clean(buf + decoder.decode());
  if (rest !== "") yield [performance.now() - t0, rest];
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
