/**
 * @module
 * What the daemon derives from mesh.yaml for its services: the HTTP base URL
 * and boot file paths written into boot scripts, the boot stage a TFTP
 * transfer marks, and who may use the node API.
 */
import type { Settings } from "../config/mod.ts";
import type { ApiAccess, HttpConfig } from "../http/mod.ts";
import { Stage } from "../store/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import type { ServedInterface } from "./served_net.ts";

/** The HTTP base URL written into boot scripts. */
export function publicBase(settings: Settings, served: readonly ServedInterface[]): string {
  const port = settings.http.port === 80 ? "" : `:${settings.http.port}`;
  if (settings.http.publicHost) return `http://${settings.http.publicHost}${port}`;
  if (served[0]) return `http://${formatIpv4(served[0].serverIp)}${port}`;
  if (settings.http.address !== 0) return `http://${formatIpv4(settings.http.address)}${port}`;
  // No segment in full DHCP yet (all proxy, or none up): each node is
  // answered with the address it reached us at (baseFromHost), so this is
  // only what a request without a Host header gets.
  return `http://127.0.0.1${port}`;
}

/** URL paths of the kernel, initramfs, modloop and repository (from boot.* in mesh.yaml). */
export function bootPaths(settings: Settings): Omit<HttpConfig, "publicBase" | "overlayAccess"> {
  const b = settings.boot;
  const netboot = `/alpine/${b.alpineBranch}/releases/x86_64/netboot`;
  const path = (p: string | undefined, dflt: string) =>
    p === undefined ? dflt : p.startsWith("/") ? p : `/${p}`;
  return {
    alpineBranch: b.alpineBranch,
    kernelPath: path(b.kernel, `${netboot}/vmlinuz-lts`),
    initrdPath: path(b.initramfs, `${netboot}/initramfs-lts`),
    modloopPath: path(b.modloop, `${netboot}/modloop-lts`),
    // Both repositories the mirror carries: a node's apk finds community packages too.
    repoPath: `/alpine/${b.alpineBranch}/main,/alpine/${b.alpineBranch}/community`,
    ...(b.cmdline !== undefined ? { extraCmdline: b.cmdline } : {}),
  };
}

/** The stage a TFTP transfer marks: the iPXE binary is "firmware", kernel/initrd by name. */
export function tftpStage(
  file: string,
  settings: Settings,
  paths: ReturnType<typeof bootPaths>,
): Stage | null {
  const base = file.replace(/^.*\//, "");
  const b = settings.boot;
  if ([b.bios, b.efiX64, "snponly.efi", b.efiArm64].includes(base)) return Stage.Firmware;
  if (base === paths.kernelPath.replace(/^.*\//, "")) return Stage.Kernel;
  if (base === paths.initrdPath.replace(/^.*\//, "")) return Stage.Initrd;
  return null;
}

/** http.api_access as the HTTP service takes it, with the token read from its file. */
export async function apiAccessOf(settings: Settings): Promise<ApiAccess> {
  const h = settings.http;
  let token: string | undefined;
  if (h.apiTokenFile !== undefined) {
    try {
      token = (await Deno.readTextFile(h.apiTokenFile)).trim();
    } catch (e) {
      throw new Error(
        `http.api_token_file: cannot read ${h.apiTokenFile}: ${(e as Error).message}`,
      );
    }
    if (token.length < 16) {
      throw new Error(`http.api_token_file: ${h.apiTokenFile} holds fewer than 16 characters`);
    }
  }
  return {
    mode: h.apiAccess,
    management: h.management.map((c) => [c.network, c.prefix] as const),
    ...(token !== undefined ? { token } : {}),
  };
}
