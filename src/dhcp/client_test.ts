import assert from "node:assert/strict";
import { guidOption, loadDhcpFixture, makeDiscover } from "../testing/dhcp_factories.ts";
import { classifyClient, decodePacket } from "./mod.ts";

Deno.test("classifyClient() reads the firmware fixtures", async () => {
  const cases = [
    ["bios_pxe_discover.hex", { arch: 0, firmware: "bios", isPxe: true, isIpxe: false }],
    ["ovmf_x64_discover.hex", { arch: 7, firmware: "efi-x64", isPxe: true, isIpxe: false }],
    ["ipxe_discover.hex", { arch: 0, firmware: "bios", isPxe: true, isIpxe: true }],
    ["uefi_http_discover.hex", {
      arch: 16,
      firmware: "http-efi-x64",
      isPxe: false,
      isIpxe: false,
    }],
  ] as const;
  for (const [name, want] of cases) {
    const c = classifyClient(decodePacket(await loadDhcpFixture(name)));
    assert.deepEqual(
      { arch: c.arch, firmware: c.firmware, isPxe: c.isPxe, isIpxe: c.isIpxe },
      want,
      name,
    );
    assert.deepEqual(c.problems, [], name);
  }
});

Deno.test("classifyClient() reports the SMBIOS UUID of option 97", async () => {
  const c = classifyClient(decodePacket(await loadDhcpFixture("ovmf_x64_discover.hex")));
  assert.equal(c.uuid, "44332211-6655-8877-99aa-bbccddeeff00");
  assert.equal(c.machineId?.length, 17);
});

Deno.test("classifyClient() tolerates a malformed option 97 and keeps it for the echo", () => {
  const c = classifyClient(makeDiscover({ arch: 7, machineId: Uint8Array.of(0, 1, 2) }));
  assert.equal(c.uuid, undefined);
  assert.deepEqual(c.machineId, Uint8Array.of(0, 1, 2));
  assert.match(c.problems.join(), /option 97 malformed/);
});

Deno.test("classifyClient() falls back to the arch in option 60", () => {
  const c = classifyClient(makeDiscover({ vendorClass: "PXEClient:Arch:00009:UNDI:003016" }));
  assert.equal(c.arch, 9);
  assert.equal(c.firmware, "efi-x64");
  assert.match(c.problems.join(), /taken from option 60/);
});

Deno.test("classifyClient() detects iPXE by option 175 alone and HTTPClient with arch 7", () => {
  assert.ok(classifyClient(makeDiscover({ ipxeOptions: Uint8Array.of(19, 1, 1) })).isIpxe);
  assert.ok(classifyClient(makeDiscover({ userClass: ["mesh", "iPXE"] })).isIpxe);
  const http = classifyClient(makeDiscover({ arch: 7, vendorClass: "HTTPClient" }));
  assert.equal(http.firmware, "http-efi-x64");
  assert.ok(http.isHttpClient);
});

Deno.test("classifyClient() sees a plain DHCP client as unknown firmware", () => {
  const c = classifyClient(makeDiscover({ vendorClass: "udhcp 1.35.0", machineId: guidOption() }));
  assert.equal(c.arch, null);
  assert.equal(c.firmware, "unknown");
  assert.ok(!c.isPxe && !c.isIpxe && !c.isHttpClient);
  assert.deepEqual(c.problems, []);
});
