/**
 * Boot time, VM start → overlay unpacked, for a SeaBIOS + iPXE VM and an
 * OVMF VM with its native PXE (NIC ROM disabled), in three set-ups, in the
 * same run, same kernel/initramfs:
 *
 *   (a) mesh serve in auto beside dnsmasq (which hands out the addresses):
 *       mesh serves proxyDHCP + 4011 + TFTP + HTTP (bios option43, uefi port4011);
 *   (b) mesh serve alone in server mode (DHCP in full);
 *   (c) dnsmasq in proxy mode (`dhcp-range=<net>,proxy`, pxe-service, TFTP)
 *       beside another dnsmasq as the address server, busybox httpd for HTTP.
 *
 * In (a) and (c) the address server also sends the IPv6 router advertisements
 * iPXE waits for (a real network with a DHCP server usually has a router); in
 * (b) mesh sends them itself.
 *
 *   deno run -A bench/proxy_boot.ts [rounds]      (root, QEMU; ~2 minutes a round)
 */
import { nodeIdFor } from "../src/boot/mod.ts";
import { copyTree } from "../tests/config_corpus/tree.ts";
import {
  EXAMPLE,
  installLabBootFiles,
  startDaemon,
  stopDaemon,
  waitForLog,
  writeLabHost0,
} from "../tests/lib/mesh_daemon.ts";
import { createLab, hasCommand, type Lab } from "../tests/lib/netns.ts";
import { addTap, bootVm, prepareBootAssets, qemuSkipReason } from "../tests/lib/qemu.ts";
import { prepareStandInRoot, writeStandInOverlay } from "../tests/lib/stand_in.ts";

const reason = qemuSkipReason() ?? (hasCommand("dnsmasq") ? null : "missing command: dnsmasq");
if (reason !== null) {
  console.log(`bench/proxy_boot: skipped: ${reason}`);
  Deno.exit(0);
}
const rounds = Number(Deno.args[0] ?? 2);
const assets = await prepareBootAssets();
const NET = "10.99.0.0";
const DNS = "10.99.0.1"; // the address server ("the network")
const PXY = "10.99.0.2"; // dnsmasq's proxy in (c)
const SRV = "10.99.0.3"; // mesh in server mode (b)
const RANGE = ["10.99.0.100", "10.99.0.199"] as const;

interface Vm {
  firmware: "bios" | "uefi";
  mac: string;
  uuid: string;
}
const vm = (firmware: "bios" | "uefi", n: number): Vm => ({
  firmware,
  mac: `52:54:00:99:0${firmware === "bios" ? 1 : 2}:${n.toString(16).padStart(2, "0")}`,
  uuid: `6d657368-0000-4000-8000-5254009${firmware === "bios" ? 1 : 2}00${
    n.toString(16).padStart(2, "0")
  }`,
});

async function boot(lab: Lab, v: Vm, tap: string, setup: string): Promise<number> {
  const r = await bootVm(lab, {
    name: `${setup}-${v.firmware}-${v.mac.replaceAll(":", "")}`,
    firmware: v.firmware,
    mac: v.mac,
    uuid: v.uuid,
    tap,
    uefiNativePxe: v.firmware === "uefi",
    timeoutMs: 600_000,
  });
  if (!r.ok || r.fields?.overlay !== "ok") {
    throw new Error(`${setup}: ${v.firmware} VM failed:\n${r.serial.slice(-20).join("\n")}`);
  }
  return r.ms;
}

/** The existing network's DHCP server on `host` (eth0 = DNS): addresses and RAs, no boot options. */
async function addressServer(lab: Lab, host: string): Promise<void> {
  const r = await lab.exec(host, ["ip", "addr", "add", "fd99::1/64", "dev", "eth0", "nodad"]);
  if (r.code !== 0) throw new Error(`ip addr add failed: ${r.stderr.trim()}`);
  lab.spawn(host, [
    "dnsmasq",
    "--keep-in-foreground",
    "--port=0",
    "--user=root",
    "--interface=eth0",
    "--bind-interfaces",
    "--conf-file=/dev/null",
    `--dhcp-range=${RANGE[0]},${RANGE[1]},255.255.255.0,1h`,
    "--enable-ra",
    "--dhcp-range=::,constructor:eth0,ra-only",
    "--no-resolv",
    "--no-hosts",
    "--pid-file=",
    "--leasefile-ro",
    "--no-ping",
  ]);
  await new Promise((r) => setTimeout(r, 300));
}

/** A /host0 in auto mode (no interfaces block) with writeLabHost0's boot settings. */
async function writeAutoHost0(host0: string, state: string): Promise<void> {
  await copyTree(EXAMPLE, host0);
  await Deno.writeTextFile(
    `${host0}/mesh.yaml`,
    `state_dir: ${state}
subnet_pool:
  - 10.123.0.0/16
boot:
  kernel: boot/vmlinuz
  initramfs: boot/initrd.gz
  modloop: boot/modloop-none
  cmdline: console=ttyS0
`,
  );
}

/** (a) and (b): boots through mesh serve, in auto beside dnsmasq or in server mode alone. */
async function viaMesh(vms: Vm[], mode: "proxy" | "server"): Promise<number[]> {
  const tmp = await Deno.makeTempDir({ prefix: "mesh-bench-pxy-" });
  await using lab = await createLab(
    mode === "proxy" ? "bpa" : "bps",
    mode === "proxy"
      ? [{ name: "srv" }, { name: "dns", address: `${DNS}/24` }]
      : [{ name: "srv", address: `${SRV}/24` }],
  );
  const state = `${tmp}/state`;
  const host0 = `${tmp}/host0`;
  try {
    if (mode === "proxy") {
      await addressServer(lab, "dns");
      await writeAutoHost0(host0, state);
    } else {
      await writeLabHost0(host0, { state, srv: SRV, pool: RANGE });
    }
    await installLabBootFiles(state, assets);
    const d = startDaemon(lab, "srv", host0);
    try {
      await d.ready;
      if (mode === "proxy") await waitForLog(d, "address leased", { timeoutMs: 60_000 });
      const ms: number[] = [];
      for (const [i, v] of vms.entries()) {
        ms.push(await boot(lab, v, await addTap(lab, `t${i}`), `mesh-${mode}`));
      }
      return ms;
    } finally {
      await stopDaemon(d);
    }
  } finally {
    await lab.cleanup();
    await Deno.remove(tmp, { recursive: true });
  }
}

/** (c): dnsmasq as proxyDHCP + TFTP beside dnsmasq the address server, busybox httpd for HTTP. */
async function viaDnsmasqProxy(vms: Vm[]): Promise<number[]> {
  const root = await Deno.makeTempDir({ prefix: "mesh-bench-pxyd-" });
  await using lab = await createLab("bpd", [
    { name: "pxy", address: `${PXY}/24` },
    { name: "dns", address: `${DNS}/24` },
  ]);
  try {
    await addressServer(lab, "dns");
    await prepareStandInRoot(root, assets);
    await Deno.writeTextFile(
      `${root}/www/boot.ipxe`,
      `#!ipxe\nkernel http://${PXY}/vmlinuz initrd=initrd.gz console=ttyS0 quiet BOOTIF=01-\${net0/mac:hexhyp} ` +
        `apkovl=http://${PXY}/ovl/{MAC}.tar.gz\ninitrd http://${PXY}/initrd.gz\nboot\n`,
    );
    for (const v of vms) {
      await writeStandInOverlay(root, v.mac, { "etc/mesh/node-id": `${nodeIdFor(v).id}\n` });
    }
    // Firmware PXE gets iPXE over TFTP; iPXE (the BIOS ROM, or the chained
    // snponly.efi) gets the script URL, so the ROM is never handed undionly.
    const conf = [
      "port=0",
      "user=root",
      "interface=eth0",
      "bind-interfaces",
      `dhcp-range=${NET},proxy,255.255.255.0`,
      `dhcp-leasefile=${root}/dnsmasq.leases`,
      `pid-file=${root}/dnsmasq.pid`,
      `log-facility=${root}/dnsmasq.log`,
      "log-dhcp",
      "dhcp-userclass=set:ipxe,iPXE",
      "dhcp-match=set:ipxe,175",
      "enable-tftp",
      `tftp-root=${root}/tftp`,
      `pxe-service=tag:!ipxe,x86PC,"mesh",undionly.kpxe`,
      `pxe-service=tag:!ipxe,X86-64_EFI,"mesh",snponly.efi`,
      `pxe-service=tag:ipxe,x86PC,"mesh",http://${PXY}/boot.ipxe`,
      `pxe-service=tag:ipxe,X86-64_EFI,"mesh",http://${PXY}/boot.ipxe`,
    ].join("\n") + "\n";
    await Deno.writeTextFile(`${root}/dnsmasq.conf`, conf);
    lab.spawn("pxy", ["dnsmasq", "--keep-in-foreground", `--conf-file=${root}/dnsmasq.conf`]);
    lab.spawn("pxy", ["busybox", "httpd", "-f", "-p", `${PXY}:80`, "-h", `${root}/www`]);
    for (let i = 0; i < 50; i++) {
      const probe = await lab.exec("pxy", [
        ...["busybox", "wget", "-q", "-O", "/dev/null"],
        `http://${PXY}/boot.ipxe`,
      ]);
      const log = await Deno.readTextFile(`${root}/dnsmasq.log`).catch(() => "");
      if (probe.code === 0 && log.includes("TFTP root")) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const ms: number[] = [];
    for (const [i, v] of vms.entries()) {
      ms.push(await boot(lab, v, await addTap(lab, `t${i}`), "dnsmasq-proxy"));
    }
    return ms;
  } finally {
    await lab.cleanup();
    await Deno.remove(root, { recursive: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rows: { name: string; proxy: number[]; server: number[]; dnsmasq: number[] }[] = [
  { name: "BIOS (SeaBIOS + iPXE ROM)", proxy: [], server: [], dnsmasq: [] },
  { name: "UEFI (OVMF PXE → snponly.efi)", proxy: [], server: [], dnsmasq: [] },
];
// Alternate the set-ups round by round so machine load hits all alike.
for (let r = 0; r < rounds; r++) {
  const vms = [vm("bios", r + 1), vm("uefi", r + 1)];
  const p = await viaMesh(vms, "proxy");
  const s = await viaMesh(vms, "server");
  const d = await viaDnsmasqProxy(vms);
  for (const [i, row] of rows.entries()) {
    row.proxy.push(p[i]!);
    row.server.push(s[i]!);
    row.dnsmasq.push(d[i]!);
  }
  console.log(
    `round ${r + 1}: mesh proxy ${p.join("/")} ms, mesh server ${s.join("/")} ms, ` +
      `dnsmasq proxy ${d.join("/")} ms (BIOS/UEFI)`,
  );
}
const sec = (ms: number, w: number) => `${(ms / 1000).toFixed(2).padStart(w)} s`;
console.log(`\nVM start → overlay unpacked, median of ${rounds} (lower is better)`);
console.log(
  "scenario                        (a) mesh proxy  (b) mesh server  (c) dnsmasq proxy   a/b    a/c",
);
for (const row of rows) {
  const a = median(row.proxy);
  const b = median(row.server);
  const c = median(row.dnsmasq);
  console.log(
    `${row.name.padEnd(31)} ${sec(a, 12)} ${sec(b, 14)} ${sec(c, 16)} ${
      (a / b).toFixed(2).padStart(6)
    } ${(a / c).toFixed(2).padStart(6)}`,
  );
}
