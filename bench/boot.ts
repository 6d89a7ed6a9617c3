/**
 * Boot time, VM start → overlay unpacked, through `mesh serve` alone and
 * through the reference stack (dnsmasq for DHCP/TFTP + busybox httpd, as in
 * the QEMU PXE recipe), in the same run, same kernel/initramfs, same lab
 * shape. Also the daemon's memory idle and during the boots.
 *
 *   deno run -A bench/boot.ts [rounds]      (root, QEMU; ~2 minutes)
 */
import { nodeIdFor } from "../src/boot/mod.ts";
import {
  installLabBootFiles,
  memory,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../tests/lib/mesh_daemon.ts";
import { createLab, type Lab } from "../tests/lib/netns.ts";
import {
  addTap,
  bootVm,
  prepareBootAssets,
  qemuSkipReason,
  startRouterAdvertiser,
} from "../tests/lib/qemu.ts";
import { prepareStandInRoot, startStandIn, writeStandInOverlay } from "../tests/lib/stand_in.ts";

const reason = qemuSkipReason();
if (reason !== null) {
  console.log(`bench/boot: skipped: ${reason}`);
  Deno.exit(0);
}
const rounds = Number(Deno.args[0] ?? 2);
const assets = await prepareBootAssets();
const SRV = "10.96.0.1";
const RANGE = ["10.96.0.100", "10.96.0.199"] as const;

interface Vm {
  firmware: "bios" | "uefi";
  mac: string;
  uuid: string;
}
const vm = (firmware: "bios" | "uefi", n: number): Vm => ({
  firmware,
  mac: `52:54:00:96:0${firmware === "bios" ? 1 : 2}:${n.toString(16).padStart(2, "0")}`,
  uuid: `6d657368-0000-4000-8000-5254009600${n.toString(16).padStart(2, "0")}`,
});

async function boot(lab: Lab, v: Vm, tap: string, server: string): Promise<number> {
  const r = await bootVm(lab, {
    name: `${server}-${v.firmware}-${v.mac.replaceAll(":", "")}`,
    firmware: v.firmware,
    mac: v.mac,
    uuid: v.uuid,
    tap,
    uefiNativePxe: v.firmware === "uefi",
    timeoutMs: 240_000,
  });
  if (!r.ok || r.fields?.overlay !== "ok") {
    throw new Error(`${v.firmware} VM failed:\n${r.serial.slice(-20).join("\n")}`);
  }
  return r.ms;
}

/** One lab served by mesh; returns boot times and memory. */
async function viaMesh(vms: Vm[]): Promise<{ ms: number[]; idle: number; peak: number }> {
  const tmp = await Deno.makeTempDir({ prefix: "mesh-bench-boot-" });
  await using lab = await createLab("bbm", [{ name: "srv", address: `${SRV}/24` }]);
  try {
    const host0 = `${tmp}/host0`;
    await writeLabHost0(host0, {
      state: `${tmp}/state`,
      srv: SRV,
      pool: RANGE,
      extraYaml: "http:\n  overlay_access: any\n",
    });
    await installLabBootFiles(`${tmp}/state`, assets);
    // mesh alone: it sends the IPv6 router advertisements iPXE waits for itself.
    const d = startDaemon(lab, "srv", host0);
    await d.ready;
    await new Promise((r) => setTimeout(r, 500));
    const idle = memory(d.child.pid).rss;
    const ms: number[] = [];
    for (const [i, v] of vms.entries()) {
      ms.push(await boot(lab, v, await addTap(lab, `t${i}`), "mesh"));
    }
    const peak = memory(d.child.pid).peak;
    await stopDaemon(d);
    return { ms, idle, peak };
  } finally {
    await lab.cleanup();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The same boots served by dnsmasq + busybox httpd. */
async function viaDnsmasq(vms: Vm[]): Promise<number[]> {
  const root = await Deno.makeTempDir({ prefix: "mesh-bench-dnsmasq-" });
  await using lab = await createLab("bbd", [{ name: "srv", address: `${SRV}/24` }]);
  try {
    await prepareStandInRoot(root, assets);
    await Deno.writeTextFile(
      `${root}/www/boot.ipxe`,
      `#!ipxe\nkernel http://${SRV}/vmlinuz initrd=initrd.gz console=ttyS0 quiet BOOTIF=01-\${net0/mac:hexhyp} ` +
        `apkovl=http://${SRV}/ovl/{MAC}.tar.gz\ninitrd http://${SRV}/initrd.gz\nboot\n`,
    );
    for (const v of vms) {
      await writeStandInOverlay(root, v.mac, { "etc/mesh/node-id": `${nodeIdFor(v).id}\n` });
    }
    await startStandIn(lab, { srv: SRV, range: RANGE, root });
    await startRouterAdvertiser(lab);
    const ms: number[] = [];
    for (const [i, v] of vms.entries()) {
      ms.push(await boot(lab, v, await addTap(lab, `t${i}`), "dnsmasq"));
    }
    return ms;
  } finally {
    await lab.cleanup();
    await Deno.remove(root, { recursive: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { name: string; mesh: number[]; dnsmasq: number[] }[] = [
  { name: "BIOS (SeaBIOS + iPXE ROM)", mesh: [], dnsmasq: [] },
  { name: "UEFI (OVMF PXE → snponly.efi)", mesh: [], dnsmasq: [] },
];
let idle = 0;
let peak = 0;
// Alternate the servers round by round so machine load hits both alike.
for (let r = 0; r < rounds; r++) {
  const vms = [vm("bios", r + 1), vm("uefi", r + 1)];
  const m = await viaMesh(vms);
  const d = await viaDnsmasq(vms);
  rows[0]!.mesh.push(m.ms[0]!);
  rows[1]!.mesh.push(m.ms[1]!);
  rows[0]!.dnsmasq.push(d[0]!);
  rows[1]!.dnsmasq.push(d[1]!);
  idle = Math.max(idle, m.idle);
  peak = Math.max(peak, m.peak);
  console.log(
    `round ${r + 1}: mesh ${m.ms.join("/")} ms, dnsmasq+httpd ${d.join("/")} ms (BIOS/UEFI)`,
  );
}
console.log(`\nVM start → overlay unpacked, median of ${rounds} (lower is better)`);
console.log("scenario                         mesh serve   dnsmasq+httpd   mesh/dnsmasq");
for (const row of rows) {
  const a = median(row.mesh);
  const b = median(row.dnsmasq);
  console.log(
    `${row.name.padEnd(32)} ${(a / 1000).toFixed(2).padStart(8)} s   ${
      (b / 1000).toFixed(2).padStart(11)
    } s   ${(a / b).toFixed(2).padStart(10)}`,
  );
}
console.log(`mesh serve memory: RSS idle ${idle} MiB, peak during boots ${peak} MiB`);
