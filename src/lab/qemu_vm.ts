/**
 * @module
 * The QEMU PXE kit shared by `mesh lab --qemu` and the e2e tests
 * (tests/lib/qemu.ts re-exports it): real firmware (SeaBIOS or OVMF, with
 * iPXE) network-boots the kernel and initramfs of ./qemu_assets.ts. QEMU runs
 * in a lab's switch namespace on a tap enslaved to one of its bridges, so the
 * VM is one more machine on that switch. The guest's /init
 * (./assets/init) prints one line
 * `MESH-NODE id=<node id> mac=<mac> ip=<ip> overlay=<ok|failed> ...`
 * on the serial console and powers off; see tests/lib/qemu.ts for the rest.
 */
import { exists } from "./qemu_assets.ts";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";
export const IPXE_DIR = "/usr/lib/ipxe";

/**
 * What the kit needs of a lab: run a command in a host's namespace (the
 * switch's, here) and start a long-running one there that the lab kills on
 * teardown. mesh lab's LabNet and tests/lib's Lab both fit.
 */
export interface VmLab {
  exec(host: string, cmd: readonly string[]): Promise<{ code: number; stderr: string }>;
  spawn(
    host: string,
    cmd: readonly string[],
    opts?: { stdout?: "piped" | "null"; stderr?: "piped" | "null" },
  ): Deno.ChildProcess;
}

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
  /** The lab host whose namespace holds the switch (and the tap); default "sw". */
  readonly switchHost?: string;
  /** Where QEMU's temp files go (OVMF variables); default the system temp directory. */
  readonly tmpDir?: string;
  /** Called with every clean serial line and its ms since QEMU start. */
  readonly onLine?: (text: string, ms: number) => void;
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

function onPath(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    if (exists(`${dir}/${cmd}`)) return true;
  }
  return false;
}

/** Why QEMU PXE boots cannot run on this machine, or null. */
export function qemuSkipReason(): string | null {
  if (Deno.build.os !== "linux") return "QEMU labs need Linux";
  if (Deno.uid() !== 0) return "QEMU labs need root (netns, tap)";
  for (
    const c of ["ip", "qemu-system-x86_64", "apt-get", "apt-cache", "dpkg-deb", "cpio", "gzip"]
  ) {
    if (!onPath(c)) return `missing command: ${c}`;
  }
  for (const f of [`${IPXE_DIR}/undionly.kpxe`, `${IPXE_DIR}/snponly.efi`, OVMF_CODE, OVMF_VARS]) {
    if (!exists(f)) return `missing file: ${f}`;
  }
  if (!exists("/dev/net/tun")) return "missing /dev/net/tun";
  return null;
}

/** Creates tap `name` on `bridge` in the switch namespace (QEMU attaches to it by name). */
export async function addTap(
  lab: VmLab,
  name: string,
  bridge = "br0",
  switchHost = "sw",
): Promise<string> {
  if (name.length > 15) throw new RangeError(`tap name too long: ${name}`);
  for (
    const cmd of [
      ["ip", "tuntap", "add", "dev", name, "mode", "tap"],
      ["ip", "link", "set", name, "master", bridge, "up"],
    ]
  ) {
    const r = await lab.exec(switchHost, cmd);
    if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed: ${r.stderr.trim()}`);
  }
  return name;
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
export async function bootVm(lab: VmLab, opts: BootVmOptions): Promise<BootVmResult> {
  const marker = opts.marker ?? "MESH-NODE";
  const name = opts.name ?? `vm-${opts.mac.replaceAll(":", "")}`;
  const serialDir = Deno.env.get("MESH_QEMU_SERIAL_DIR");
  const serialFile = opts.serialFile ?? (serialDir ? `${serialDir}/${name}.serial` : undefined);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const nic = opts.nic ?? "virtio";
  const tmp = await Deno.makeTempDir({
    prefix: "mesh-qemu-",
    ...(opts.tmpDir ? { dir: opts.tmpDir } : {}),
  });
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
  const child = lab.spawn(opts.switchHost ?? "sw", ["qemu-system-x86_64", ...args], {
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
      opts.onLine?.(text, ms);
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
