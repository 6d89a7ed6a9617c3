/**
 * @module
 * What kind of boot client sent a request: architecture (option 93, falling
 * back to the "Arch:" field of option 60), firmware family, PXE / UEFI HTTP
 * boot / iPXE markers and the machine GUID (option 97). Pure; problems with
 * the request are listed, never thrown.
 */
import type { BootFacts, Firmware } from "../boot/mod.ts";
import { Arch, Opt } from "./constants.ts";
import {
  getClientArchs,
  getClientMachineId,
  getUserClasses,
  getVendorClass,
} from "./option_values.ts";
import { formatSmbiosUuid } from "./option_values.ts";
import { clientMac, type DhcpPacket } from "./packet.ts";

/** A classified boot client: what the boot decision needs, and the rest for logs and replies. */
export interface BootClient extends BootFacts {
  /** Canonical MAC from chaddr. */
  readonly mac: string;
  readonly vendorClass?: string;
  /** SMBIOS UUID text from a well-formed option 97 (what iPXE's ${uuid} shows). */
  readonly uuid?: string;
  /** Raw option 97 value, echoed in replies even when malformed. */
  readonly machineId?: Uint8Array;
  /** Anything odd about the request, for debug logs. */
  readonly problems: readonly string[];
}

const ARCH_NAMES: Readonly<Record<number, string>> = {
  0: "x86 BIOS",
  1: "NEC/PC98",
  2: "Itanium",
  3: "DEC Alpha",
  4: "Arc x86",
  5: "Intel Lean Client",
  6: "x86 UEFI",
  7: "x64 UEFI",
  8: "Xscale UEFI",
  9: "EBC (x64 UEFI)",
  10: "ARM 32-bit UEFI",
  11: "ARM 64-bit UEFI",
  12: "PowerPC Open Firmware",
  13: "PowerPC ePAPR",
  14: "POWER OPAL v3",
  15: "x86 UEFI HTTP",
  16: "x64 UEFI HTTP",
  17: "EBC UEFI HTTP",
  18: "ARM 32-bit UEFI HTTP",
  19: "ARM 64-bit UEFI HTTP",
  20: "x86 BIOS HTTP",
  21: "ARM 32-bit U-Boot",
  22: "ARM 64-bit U-Boot",
  25: "RISC-V 32-bit UEFI",
  27: "RISC-V 64-bit UEFI",
};

/** IANA name of an architecture type. */
export function archName(arch: number | null): string {
  if (arch === null) return "none";
  return ARCH_NAMES[arch] ?? `arch ${arch}`;
}

/** Firmware family of an architecture type (7 and 9 are both x64 UEFI in the wild). */
export function firmwareOf(arch: number | null): Firmware {
  switch (arch) {
    case Arch.X86Bios:
      return "bios";
    case Arch.X86Uefi:
      return "efi-ia32";
    case Arch.X64Uefi:
    case Arch.Ebc:
      return "efi-x64";
    case Arch.Arm32Uefi:
      return "efi-arm32";
    case Arch.Arm64Uefi:
      return "efi-arm64";
    case Arch.X86UefiHttp:
      return "http-efi-ia32";
    case Arch.X64UefiHttp:
    case Arch.EbcHttp:
      return "http-efi-x64";
    case Arch.Arm32UefiHttp:
      return "http-efi-arm32";
    case Arch.Arm64UefiHttp:
      return "http-efi-arm64";
    default:
      return "unknown";
  }
}

/** The "Arch:NNNNN" field of a PXEClient/HTTPClient vendor class. */
function archFromVendorClass(vc: string | undefined): number | null {
  const m = vc === undefined ? null : /^(?:PXEClient|HTTPClient):Arch:(\d{5})/.exec(vc);
  return m ? Number(m[1]) : null;
}

/** Classifies the sender of a request. Never throws. */
export function classifyClient(pkt: DhcpPacket): BootClient {
  const problems: string[] = [];
  const o = pkt.options;
  const vendorClass = getVendorClass(o);
  const userClasses = getUserClasses(o) ?? [];
  const isPxe = vendorClass?.startsWith("PXEClient") ?? false;
  const isHttpClient = vendorClass?.startsWith("HTTPClient") ?? false;
  const isIpxe = userClasses.includes("iPXE") || o.has(Opt.IpxeEncapsulated);

  const archs = getClientArchs(o);
  const vcArch = archFromVendorClass(vendorClass);
  let arch: number | null = archs?.[0] ?? null;
  if (archs === undefined && o.has(Opt.ClientSystemArchitecture)) {
    problems.push(`option 93 malformed (${o.get(Opt.ClientSystemArchitecture)!.length} bytes)`);
  }
  if (archs !== undefined && archs.length > 1) {
    problems.push(`option 93 lists ${archs.length} architectures; using the first`);
  }
  if (arch === null && vcArch !== null) {
    arch = vcArch;
    problems.push("option 93 missing; architecture taken from option 60");
  } else if (arch !== null && vcArch !== null && arch !== vcArch) {
    problems.push(`option 60 says arch ${vcArch}, option 93 says ${arch}; using option 93`);
  }
  if (arch === null && (isPxe || isHttpClient)) problems.push("no client architecture");

  let firmware = firmwareOf(arch);
  // EDK2 HTTP boot on x64 sometimes reports arch 7 with vendor class HTTPClient.
  if (isHttpClient && firmware.startsWith("efi-")) firmware = `http-${firmware}` as Firmware;

  const id = getClientMachineId(o);
  let uuid: string | undefined;
  if (id !== undefined) {
    if (id.valid) uuid = formatSmbiosUuid(id.guid);
    else problems.push(`option 97 malformed (${id.raw.length} bytes), echoed as is`);
  }

  return {
    mac: clientMac(pkt),
    arch,
    archName: archName(arch),
    firmware,
    isPxe,
    isHttpClient,
    isIpxe,
    ...(vendorClass !== undefined ? { vendorClass } : {}),
    userClasses,
    ...(uuid !== undefined ? { uuid } : {}),
    ...(id !== undefined ? { machineId: id.raw } : {}),
    problems,
  };
}
