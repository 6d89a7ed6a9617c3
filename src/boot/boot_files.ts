/**
 * @module
 * Which file a network-booting client gets, from its classification (pure,
 * shared by the authoritative and the proxy DHCP responders):
 *
 * - iPXE (user class "iPXE" or option 175) → the HTTP boot-script URL. This
 *   breaks the chainload loop: the firmware loads iPXE, iPXE asks again and
 *   is recognised.
 * - UEFI HTTP Boot (option 60 "HTTPClient" or arch 15-19) → the iPXE EFI
 *   binary as an http:// URL; the reply must echo option 60 "HTTPClient".
 * - PXE firmware → the iPXE binary for its architecture over TFTP:
 *   0 BIOS → undionly.kpxe, 7/9 x64 UEFI → ipxe.efi (or snponly.efi),
 *   6 IA32 and 10/11 ARM UEFI only when a file is configured.
 * - anything else → no boot fields (an ordinary DHCP client).
 */

/** Firmware family derived from the architecture type. */
export type Firmware =
  | "bios"
  | "efi-ia32"
  | "efi-x64"
  | "efi-arm32"
  | "efi-arm64"
  | "http-efi-ia32"
  | "http-efi-x64"
  | "http-efi-arm32"
  | "http-efi-arm64"
  | "unknown";

/**
 * What the boot decision looks at: the part of a classified DHCP client
 * (src/dhcp's BootClient, from `classifyClient`) that says how it boots.
 */
export interface BootFacts {
  /** First option 93 entry (or option 60 "Arch:"), null when neither is present. */
  readonly arch: number | null;
  /** IANA name of the architecture, for logs. */
  readonly archName: string;
  readonly firmware: Firmware;
  /** Option 60 starts with "PXEClient". */
  readonly isPxe: boolean;
  /** Option 60 starts with "HTTPClient" (UEFI HTTP Boot). */
  readonly isHttpClient: boolean;
  /** User class "iPXE" or option 175 present: the chainloaded stage, gets the script. */
  readonly isIpxe: boolean;
  readonly userClasses: readonly string[];
}

/** Boot file settings for one segment. */
export interface BootFilesConfig {
  /** TFTP server address (u32), normally the segment's own address. */
  readonly tftpServer: number;
  /** "http://<ip>:<port>" of the HTTP server, no trailing slash. */
  readonly httpBase: string;
  /** BIOS iPXE binary over TFTP. */
  readonly bios: string;
  /** x64 UEFI iPXE binary. */
  readonly efiX64: string;
  /** Use snponly.efi instead (reuses the firmware's network driver; faster on some boards). */
  readonly efiX64Snp: boolean;
  readonly efiIa32?: string;
  readonly efiArm32?: string;
  readonly efiArm64?: string;
  /** Path of the iPXE boot script on the HTTP server. */
  readonly bootScriptPath: string;
  /** HTTP path under which the iPXE binaries are served (default "/boot", see http/static_routes). */
  readonly httpBinPath?: string;
}

/** File names used when mesh.yaml does not override them. */
export const DEFAULT_BOOT_FILES = {
  bios: "undionly.kpxe",
  efiX64: "ipxe.efi",
  efiX64Snp: false,
  bootScriptPath: "/boot.ipxe",
} as const;

/** Where the HTTP server serves iPXE binaries. */
export const DEFAULT_HTTP_BIN_PATH = "/boot";

/** The x64 SNP-only iPXE build. */
export const SNPONLY_EFI = "snponly.efi";

/** What to put in the boot fields of a reply. */
export type BootDecision =
  | {
    readonly kind: "tftp";
    readonly file: string;
    readonly siaddr: number;
    readonly reason: string;
  }
  | {
    readonly kind: "http";
    readonly url: string;
    readonly vendorClass: "HTTPClient";
    readonly reason: string;
  }
  | { readonly kind: "script"; readonly url: string; readonly reason: string }
  | { readonly kind: "none"; readonly reason: string };

/**
 * The boot-script URL handed to iPXE. The `${net0/mac}` and `${uuid}` tokens
 * are iPXE settings that iPXE expands itself before fetching the filename.
 */
export function bootScriptUrl(cfg: Pick<BootFilesConfig, "httpBase" | "bootScriptPath">): string {
  return `${cfg.httpBase}${cfg.bootScriptPath}?mac=\${net0/mac}&uuid=\${uuid}`;
}

/** The configured iPXE binary for a firmware family, or undefined. */
function fileFor(fw: Firmware, cfg: BootFilesConfig): string | undefined {
  switch (fw) {
    case "bios":
      return cfg.bios;
    case "efi-x64":
    case "http-efi-x64":
      return cfg.efiX64Snp ? SNPONLY_EFI : cfg.efiX64;
    case "efi-ia32":
    case "http-efi-ia32":
      return cfg.efiIa32;
    case "efi-arm32":
    case "http-efi-arm32":
      return cfg.efiArm32;
    case "efi-arm64":
    case "http-efi-arm64":
      return cfg.efiArm64;
    case "unknown":
      return undefined;
  }
}

/** Decides the boot file for a client. Every outcome carries a reason for debug logs. */
export function bootDecision(client: BootFacts, cfg: BootFilesConfig): BootDecision {
  const arch = `arch ${client.arch ?? "none"} (${client.archName})`;
  if (client.isIpxe) {
    return {
      kind: "script",
      url: bootScriptUrl(cfg),
      reason: `iPXE client (${client.userClasses.includes("iPXE") ? "user class" : "option 175"})`,
    };
  }
  const isHttp = client.isHttpClient || client.firmware.startsWith("http-");
  if (isHttp) {
    const file = fileFor(client.firmware, cfg);
    if (file === undefined) {
      return { kind: "none", reason: `UEFI HTTP boot with ${arch}: no iPXE binary configured` };
    }
    return {
      kind: "http",
      url: `${cfg.httpBase}${cfg.httpBinPath ?? DEFAULT_HTTP_BIN_PATH}/${file}`,
      vendorClass: "HTTPClient",
      reason: `UEFI HTTP boot, ${arch} → ${file}`,
    };
  }
  if (!client.isPxe && client.arch === null) {
    return { kind: "none", reason: "not a network boot client (no PXEClient, option 93 or iPXE)" };
  }
  if (client.arch === null) return { kind: "none", reason: "PXE client without architecture" };
  const file = fileFor(client.firmware, cfg);
  if (file === undefined) {
    return {
      kind: "none",
      reason: client.firmware === "unknown"
        ? `unsupported ${arch}`
        : `no iPXE binary configured for ${arch}`,
    };
  }
  return { kind: "tftp", file, siaddr: cfg.tftpServer, reason: `PXE ${arch} → ${file} over TFTP` };
}
