/**
 * @module
 * A lightweight lab node: a namespace whose real clients walk the PXE boot
 * path the way firmware and iPXE do. busybox udhcpc as PXE firmware (vendor
 * class PXEClient, option 93 arch 0), tftp-hpa for the iPXE binary, udhcpc
 * again as iPXE (user class "iPXE") for the script URL, then curl for the
 * script, the kernel and initrd it names, the overlay and the online report.
 */
import type { LabNet } from "./netns.ts";

/** The boot stages of a node, in order. */
export const STAGES = [
  "dhcp",
  "tftp",
  "ipxe-dhcp",
  "script",
  "kernel",
  "initrd",
  "overlay",
  "online",
] as const;
export type StageName = typeof STAGES[number];

export interface NodeState {
  readonly name: string;
  readonly switch: string;
  mac: string;
  ip: string;
  id: string;
  /** Last stage reached. */
  stage: StageName | "waiting" | "starting";
  /** Milliseconds from the node's start to the end of each stage. */
  readonly times: Partial<Record<StageName, number>>;
  startedAt: number;
  error: string;
  done: boolean;
  /** Where the iPXE binary's name came from: mesh's DHCP answer, or its proxy (see bootLightNode). */
  via: "" | "dhcp" | "proxy";
  /** Servers whose address-less (proxy) OFFER udhcpc picked and could not use. */
  proxyOffers: string[];
}

/** udhcpc's script: configures the address on `bound`/`renew` and saves udhcpc's env. */
export const UDHCPC_SCRIPT = `#!/bin/sh
# written by mesh lab: never the default udhcpc script (it rewrites /etc/resolv.conf)
case "$1" in
  bound|renew)
    ip addr flush dev "$interface" 2>/dev/null
    ip addr add "$ip/\${mask:-24}" dev "$interface"
    env > "$MESH_LAB_ENV"
    ;;
esac
exit 0
`;

function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface BootContext {
  readonly lab: LabNet;
  /** Path of UDHCPC_SCRIPT on disk. */
  readonly script: string;
  /** mesh's address on the node's segment (boot server when the DHCP answer names none). */
  readonly meshAddress: string;
  /** Called after every stage change. */
  readonly changed: () => void;
}

/** Boots one lightweight node; resolves when it is online or failed (never rejects). */
export async function bootLightNode(node: NodeState, ctx: BootContext): Promise<void> {
  const { lab } = ctx;
  const host = node.name;
  const envFile = `${lab.dir}/${host}.env`;
  node.startedAt = Date.now();
  node.stage = "starting";
  ctx.changed();
  const mark = (s: StageName) => {
    node.times[s] = Date.now() - node.startedAt;
    node.stage = s;
    ctx.changed();
  };
  const fail = (why: string) => {
    node.error = why.replace(/\s+/g, " ").trim().slice(0, 200);
    node.done = true;
    ctx.changed();
  };
  // On a proxy segment two servers answer a PXE DISCOVER: the one with the
  // address and mesh's proxy (no address). Firmware merges both; udhcpc takes
  // the first OFFER, and when that is the proxy's it asks for 0.0.0.0 and
  // gets no ACK. Then it tries again (the proxy did answer: that is noted).
  const udhcpc = async (extra: string[]) => {
    let why = "";
    for (let attempt = 0; attempt < 8; attempt++) {
      await Deno.remove(envFile).catch(() => {});
      const r = await lab.exec(host, [
        "env",
        `MESH_LAB_ENV=${envFile}`,
        "udhcpc",
        ...["-i", "eth0", "-f", "-q", "-n", "-t", "3", "-T", "1", "-s", ctx.script],
        ...["-O", "43", "-O", "66", "-O", "67"],
        ...extra,
      ], { timeoutMs: 30_000 });
      const text = await Deno.readTextFile(envFile).catch(() => "");
      if (text !== "") return parseEnv(text);
      const proxy = /select for 0\.0\.0\.0, server (\S+)/.exec(r.stderr)?.[1];
      if (proxy) node.proxyOffers = [...new Set([...node.proxyOffers, proxy])];
      why = r.stderr.trim().split("\n").slice(-2).join(" ");
    }
    throw new Error(`udhcpc: no lease: ${why}`);
  };
  const curl = async (url: string, to = "/dev/null") => {
    const r = await lab.exec(host, [
      "curl",
      ...["-sS", "-f", "-m", "30", "-o", to, "-w", "%{size_download}"],
      url,
    ], { timeoutMs: 40_000 });
    if (r.code !== 0) throw new Error(`curl ${url}: ${r.stderr.trim()}`);
    return Number(r.stdout);
  };
  try {
    node.mac = (await lab.exec(host, ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
    // 1. PXE firmware: DHCP with PXEClient and client arch 0 (BIOS).
    const pxe = await udhcpc(["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"]);
    node.ip = pxe.ip ?? "";
    mark("dhcp");
    // 2. TFTP of the iPXE binary the answer names (from its boot server).
    // A full DHCP answer from mesh names both. On a proxy segment udhcpc keeps
    // only the other server's answer (no file): the boot server is then mesh's
    // address there, and the file the one mesh's proxy names for arch 0.
    const named = nonEmpty(pxe.boot_file);
    const server = named ? nonEmpty(pxe.siaddr) ?? nonEmpty(pxe.serverid)! : ctx.meshAddress;
    const file = named ?? "undionly.kpxe";
    node.via = named ? "dhcp" : "proxy";
    const local = `${lab.dir}/${host}.ipxe`;
    const t = await lab.exec(host, ["tftp", "-m", "binary", server, "-c", "get", file, local], {
      timeoutMs: 30_000,
    });
    const size = await Deno.stat(local).then((s) => s.size, () => 0);
    if (size === 0) throw new Error(`tftp ${server} ${file}: ${(t.stdout + t.stderr).trim()}`);
    mark("tftp");
    // 3. iPXE: DHCP again with user class "iPXE"; the answer names the script URL.
    const ipxe = await udhcpc(["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x4d:69505845"]);
    node.ip = ipxe.ip ?? node.ip;
    mark("ipxe-dhcp");
    const url = nonEmpty(ipxe.boot_file) ?? "";
    const base = /^https?:\/\//.test(url)
      ? url.replace(/\$\{mac[^}]*\}/g, node.mac).replace(/\$\{uuid\}/g, "")
      : `http://${ctx.meshAddress}/boot.ipxe?mac=${node.mac}&uuid=`;
    // 4. The boot script, then what it names.
    const scriptFile = `${lab.dir}/${host}.script`;
    await curl(base, scriptFile);
    const script = await Deno.readTextFile(scriptFile);
    mark("script");
    const kernel = /^kernel (\S+)/m.exec(script)?.[1];
    const initrd = /^initrd (\S+)/m.exec(script)?.[1];
    const ovl = /apkovl=(\S+)/.exec(script)?.[1];
    if (!kernel || !initrd || !ovl) throw new Error(`boot script names no kernel/initrd/apkovl`);
    node.id = /apkovl\/([0-9a-f]{8})\.tar\.gz/.exec(ovl)?.[1] ?? "";
    await curl(kernel);
    mark("kernel");
    await curl(initrd);
    mark("initrd");
    if ((await curl(ovl.replace("{MAC}", node.mac))) === 0) throw new Error("empty overlay");
    mark("overlay");
    const origin = new URL(kernel).origin;
    await curl(`${origin}/api/v1/report/online?id=${node.id}`);
    mark("online");
    node.done = true;
    ctx.changed();
  } catch (e) {
    fail(e instanceof Error ? e.message : String(e));
  }
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s.trim() !== "" ? s.trim() : undefined;
}
