/**
 * @module
 * A workload as a qemu-system-x86_64 command line. Pure: the workload, its
 * run directory on the node and each NIC's bridge in; the argv out (and the
 * taps and volumes the supervisor must prepare before running it).
 */
import type { Workload } from "../config/mod.ts";
import { nicMac, tapName } from "./identity.ts";

/** How the guest's CPU runs: KVM, or TCG (software; slow, but needs no /dev/kvm). */
export type Accel = "kvm" | "tcg";

export interface RenderInput {
  readonly workload: Workload;
  /** The workload's run directory on the node (pid file, QMP socket, console log). */
  readonly runDir: string;
  readonly accel: Accel;
  /** The bridge each NIC's mesh has on the node (`br<vni>`), by mesh name. */
  readonly bridges: Readonly<Record<string, string>>;
  /** Detach after start (the supervisor's way; default true). */
  readonly daemonize?: boolean;
}

/** A tap the supervisor creates and plugs into `bridge` (when that bridge exists). */
export interface TapPlan {
  readonly ifname: string;
  readonly bridge: string;
  readonly mac: string;
}

export interface Rendered {
  readonly argv: readonly string[];
  readonly taps: readonly TapPlan[];
  /** Files in the run directory. */
  readonly pidFile: string;
  readonly qmpSocket: string;
  readonly console: string | null;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `uuid` is a real (8-4-4-4-12 hex) UUID, the only form `-uuid` takes. */
export function isRealUuid(uuid: string): boolean {
  return UUID_RE.test(uuid);
}

/** A value inside a QEMU `key=value,...` option: a comma is written twice. */
function optValue(v: string): string {
  return v.replaceAll(",", ",,");
}

/** Memory for `-m`, in MiB (rounded up: `512K` is 1 MiB). */
export function memoryMiB(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20);
}

/**
 * The CPU model: as written, but `host` needs KVM, so under TCG it becomes
 * `max` (every feature TCG can emulate), which is what `host` means there.
 */
function cpuModel(mode: string, accel: Accel): string {
  return accel === "tcg" && mode === "host" ? "max" : mode;
}

/** Renders the command line. Throws when a NIC's mesh has no bridge in `bridges`. */
export function renderQemu(input: RenderInput): Rendered {
  const w = input.workload;
  const dir = input.runDir.replace(/\/+$/, "");
  const pidFile = `${dir}/qemu.pid`;
  const qmpSocket = `${dir}/qmp.sock`;
  const consoleFile = w.console.serial ? (w.console.path ?? `${dir}/console.log`) : null;
  const argv: string[] = ["qemu-system-x86_64", "-name", w.name];
  if (isRealUuid(w.uuid)) argv.push("-uuid", w.uuid.toLowerCase());
  // No default devices (NIC on user networking, VGA, monitor): only what the file says.
  argv.push("-nodefaults", "-no-user-config");
  argv.push("-accel", input.accel);
  argv.push("-cpu", cpuModel(w.cpu.mode, input.accel));
  argv.push("-m", String(memoryMiB(w.memory.bytes)));
  argv.push("-smp", String(w.cpu.threads));
  for (const v of w.volumes) {
    const file = `file=${optValue(v.path)}`;
    argv.push(
      "-drive",
      v.type === "iso"
        ? `${file},format=raw,media=cdrom,readonly=on,id=${v.id}`
        : `${file},format=${v.type},if=virtio,id=${v.id}`,
    );
  }
  const taps: TapPlan[] = [];
  for (const nic of w.networks) {
    const bridge = input.bridges[nic.mesh];
    if (bridge === undefined) throw new Error(`no bridge for mesh "${nic.mesh}"`);
    const tap = { ifname: tapName(w.uuid, nic.id), bridge, mac: nic.mac ?? nicMac(w.uuid, nic.id) };
    taps.push(tap);
    argv.push("-netdev", `tap,id=${nic.id},ifname=${tap.ifname},script=no,downscript=no`);
    argv.push("-device", `virtio-net-pci,netdev=${nic.id},mac=${tap.mac}`);
  }
  argv.push("-serial", consoleFile === null ? "none" : `file:${consoleFile}`);
  argv.push("-display", "none");
  argv.push("-qmp", `unix:${qmpSocket},server=on,wait=off`);
  argv.push("-pidfile", pidFile);
  if (input.daemonize !== false) argv.push("-daemonize");
  return { argv, taps, pidFile, qmpSocket, console: consoleFile };
}
