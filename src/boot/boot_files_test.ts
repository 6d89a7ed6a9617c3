import assert from "node:assert/strict";
import { classifyClient } from "../dhcp/mod.ts";
import { parseIpv4 } from "../wire/mod.ts";
import { type ClientSpec, makeDiscover } from "../testing/dhcp_factories.ts";
import { bootDecision, type BootFilesConfig, DEFAULT_BOOT_FILES } from "./mod.ts";

const cfg: BootFilesConfig = {
  ...DEFAULT_BOOT_FILES,
  tftpServer: parseIpv4("10.11.0.1"),
  httpBase: "http://10.11.0.1:8080",
};
const pxe = (arch: number) => `PXEClient:Arch:${String(arch).padStart(5, "0")}:UNDI:002001`;
const SCRIPT = "http://10.11.0.1:8080/boot.ipxe?mac=${net0/mac}&uuid=${uuid}";

const table: {
  name: string;
  client: ClientSpec;
  config?: Partial<BootFilesConfig>;
  want: { kind: string; file?: string; url?: string };
}[] = [
  {
    name: "BIOS PXE",
    client: { arch: 0, vendorClass: pxe(0) },
    want: { kind: "tftp", file: "undionly.kpxe" },
  },
  {
    name: "x64 UEFI (7)",
    client: { arch: 7, vendorClass: pxe(7) },
    want: { kind: "tftp", file: "ipxe.efi" },
  },
  {
    name: "x64 UEFI (9)",
    client: { arch: 9, vendorClass: pxe(9) },
    want: { kind: "tftp", file: "ipxe.efi" },
  },
  {
    name: "x64 UEFI with snponly",
    client: { arch: 7, vendorClass: pxe(7) },
    config: { efiX64Snp: true },
    want: { kind: "tftp", file: "snponly.efi" },
  },
  {
    name: "IA32 UEFI without a file",
    client: { arch: 6, vendorClass: pxe(6) },
    want: { kind: "none" },
  },
  {
    name: "IA32 UEFI with a file",
    client: { arch: 6, vendorClass: pxe(6) },
    config: { efiIa32: "ipxe-ia32.efi" },
    want: { kind: "tftp", file: "ipxe-ia32.efi" },
  },
  {
    name: "ARM64 UEFI without a file",
    client: { arch: 11, vendorClass: pxe(11) },
    want: { kind: "none" },
  },
  {
    name: "ARM64 UEFI with a file",
    client: { arch: 11, vendorClass: pxe(11) },
    config: { efiArm64: "ipxe-arm64.efi" },
    want: { kind: "tftp", file: "ipxe-arm64.efi" },
  },
  {
    name: "ARM32 UEFI with a file",
    client: { arch: 10, vendorClass: pxe(10) },
    config: { efiArm32: "ipxe-arm32.efi" },
    want: { kind: "tftp", file: "ipxe-arm32.efi" },
  },
  {
    name: "UEFI HTTP x64 (16 + HTTPClient)",
    client: { arch: 16, vendorClass: "HTTPClient:Arch:00016" },
    want: { kind: "http", url: "http://10.11.0.1:8080/boot/ipxe.efi" },
  },
  {
    name: "UEFI HTTP IA32 (15) with a file",
    client: { arch: 15, vendorClass: "HTTPClient:Arch:00015" },
    config: { efiIa32: "i386.efi" },
    want: { kind: "http", url: "http://10.11.0.1:8080/boot/i386.efi" },
  },
  {
    name: "UEFI HTTP ARM64 (19) with a file",
    client: { arch: 19, vendorClass: "HTTPClient:Arch:00019" },
    config: { efiArm64: "arm64.efi" },
    want: { kind: "http", url: "http://10.11.0.1:8080/boot/arm64.efi" },
  },
  {
    name: "UEFI HTTP ARM64 without a file",
    client: { arch: 19, vendorClass: "HTTPClient" },
    want: { kind: "none" },
  },
  {
    name: "HTTPClient with arch 7",
    client: { arch: 7, vendorClass: "HTTPClient" },
    want: { kind: "http", url: "http://10.11.0.1:8080/boot/ipxe.efi" },
  },
  {
    name: "iPXE by user class",
    client: { arch: 0, vendorClass: pxe(0), userClass: "iPXE" },
    want: { kind: "script", url: SCRIPT },
  },
  {
    name: "iPXE by option 175",
    client: { arch: 7, vendorClass: pxe(7), ipxeOptions: Uint8Array.of(19, 1, 1) },
    want: { kind: "script", url: SCRIPT },
  },
  { name: "plain DHCP client", client: { vendorClass: "udhcp 1.35.0" }, want: { kind: "none" } },
  { name: "no options at all", client: {}, want: { kind: "none" } },
  {
    name: "PXE with unknown arch",
    client: { arch: 2, vendorClass: pxe(2) },
    want: { kind: "none" },
  },
  {
    name: "option 93 without vendor class",
    client: { arch: 0 },
    want: { kind: "tftp", file: "undionly.kpxe" },
  },
];

for (const t of table) {
  Deno.test(`bootDecision(): ${t.name}`, () => {
    const d = bootDecision(classifyClient(makeDiscover(t.client)), { ...cfg, ...t.config });
    assert.equal(d.kind, t.want.kind, d.reason);
    assert.ok(d.reason.length > 0);
    if (d.kind === "tftp") {
      assert.equal(d.file, t.want.file);
      assert.equal(d.siaddr, cfg.tftpServer);
    }
    if (d.kind === "http") {
      assert.equal(d.url, t.want.url);
      assert.equal(d.vendorClass, "HTTPClient");
    }
    if (d.kind === "script") assert.equal(d.url, t.want.url);
  });
}
