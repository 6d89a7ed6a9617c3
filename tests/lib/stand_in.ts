/**
 * @module
 * The established netboot stack as a stand-in server, for comparisons and for
 * tests of the QEMU kit: dnsmasq (DHCP + TFTP, configured like the reference
 * recipe: undionly.kpxe / snponly.efi to firmware, the script URL to iPXE)
 * and busybox httpd, both in a lab host's namespace. Killed with the lab.
 */
import type { Lab } from "./netns.ts";

export interface StandInOptions {
  /** Lab host that runs the servers (its eth0 holds `srv`). */
  readonly host?: string;
  /** Server address on eth0. */
  readonly srv: string;
  /** Dynamic range, e.g. ["10.77.0.100", "10.77.0.200"]. */
  readonly range: readonly [string, string];
  /** Directory with `tftp/` (iPXE binaries) and `www/` (boot.ipxe and the rest). */
  readonly root: string;
}

/** What dnsmasq does in a lab: DHCP for `range`, iPXE to `ipxeBoot`, optionally TFTP and RA. */
export interface DnsmasqConfOptions {
  /** Where leases, pid file and log go. */
  readonly dir: string;
  readonly range: readonly [string, string];
  /** Boot URL handed to iPXE (user class iPXE or option 175). */
  readonly ipxeBoot: string;
  /** With a TFTP root: also serve TFTP and hand firmware undionly.kpxe / snponly.efi. */
  readonly tftpRoot?: string;
  /** Send IPv6 router advertisements (iPXE otherwise waits ~16 s for them). */
  readonly ra?: boolean;
}

/** A dnsmasq.conf for the reference stack, configured like the QEMU PXE recipe. */
export function dnsmasqConf(o: DnsmasqConfOptions): string {
  const lines = [
    "port=0",
    "user=root",
    "interface=eth0",
    "bind-interfaces",
    "dhcp-authoritative",
    "no-ping", // dnsmasq would ping each new address for ~3 s first
    `dhcp-range=${o.range[0]},${o.range[1]},255.255.255.0,1h`,
    `dhcp-leasefile=${o.dir}/dnsmasq.leases`,
    `pid-file=${o.dir}/dnsmasq.pid`,
    `log-facility=${o.dir}/dnsmasq.log`,
    "log-dhcp",
    "dhcp-userclass=set:ipxe,iPXE",
    "dhcp-match=set:ipxe,175",
    // iPXE "no-pxedhcp": do not wait 2 s for proxyDHCP offers
    "dhcp-option=tag:ipxe,encap:175,176,1b",
    `dhcp-boot=tag:ipxe,${o.ipxeBoot}`,
  ];
  if (o.ra) lines.push("enable-ra", "dhcp-range=::,constructor:eth0,ra-only");
  if (o.tftpRoot !== undefined) {
    lines.push(
      "enable-tftp",
      `tftp-root=${o.tftpRoot}`,
      "dhcp-vendorclass=set:pxe,PXEClient",
      "dhcp-match=set:efi64,option:client-arch,7",
      "dhcp-match=set:efi64,option:client-arch,9",
      "dhcp-boot=tag:pxe,tag:!ipxe,tag:!efi64,undionly.kpxe",
      "dhcp-boot=tag:pxe,tag:!ipxe,tag:efi64,snponly.efi",
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * Lays out `root` for the stand-in: `tftp/` with the iPXE binaries, `www/`
 * with the kit's kernel and initrd and an `ovl/` folder for overlays.
 */
export async function prepareStandInRoot(
  root: string,
  assets: { kernel: string; initrd: string },
): Promise<void> {
  await Deno.mkdir(`${root}/www/ovl`, { recursive: true });
  await Deno.mkdir(`${root}/tftp`, { recursive: true });
  await Deno.copyFile(assets.kernel, `${root}/www/vmlinuz`);
  await Deno.copyFile(assets.initrd, `${root}/www/initrd.gz`);
  for (const f of ["undionly.kpxe", "snponly.efi"]) {
    await Deno.copyFile(`/usr/lib/ipxe/${f}`, `${root}/tftp/${f}`);
  }
}

/** Writes `www/ovl/<name>.tar.gz` holding `files` (path → text), made with GNU tar. */
export async function writeStandInOverlay(
  root: string,
  name: string,
  files: Record<string, string>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: root, prefix: "ovl-" });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${path.split("/").slice(0, -1).join("/")}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${path}`, content);
  }
  const out = await new Deno.Command("tar", {
    args: ["-czf", `${root}/www/ovl/${name}.tar.gz`, "-C", dir, "."],
  })
    .output();
  if (!out.success) throw new Error(`tar failed for overlay ${name}`);
}

/** Starts dnsmasq and busybox httpd; resolves once both answer. */
export async function startStandIn(lab: Lab, opts: StandInOptions): Promise<void> {
  const { root, srv } = opts;
  const host = opts.host ?? "srv";
  const conf = dnsmasqConf({
    dir: root,
    range: opts.range,
    ipxeBoot: `http://${srv}/boot.ipxe`,
    tftpRoot: `${root}/tftp`,
  });
  await Deno.writeTextFile(`${root}/dnsmasq.conf`, conf);
  lab.spawn(host, ["dnsmasq", "--keep-in-foreground", `--conf-file=${root}/dnsmasq.conf`]);
  lab.spawn(host, ["busybox", "httpd", "-f", "-p", `${srv}:80`, "-h", `${root}/www`]);
  for (let i = 0; i < 50; i++) {
    const probe = await lab.exec(host, [
      "busybox",
      "wget",
      "-q",
      "-O",
      "/dev/null",
      `http://${srv}/boot.ipxe`,
    ]);
    const log = await Deno.readTextFile(`${root}/dnsmasq.log`).catch(() => "");
    if (probe.code === 0 && log.includes("TFTP root")) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  const log = await Deno.readTextFile(`${root}/dnsmasq.log`).catch(() => "");
  throw new Error(`stand-in servers did not start: ${log}`);
}
