import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { ByteWriter } from "../wire/mod.ts";
import {
  decodeOptions,
  decodePxeVendorOptions,
  encodeOptions,
  encodePxeVendorOptions,
  formatSmbiosUuid,
  getClientArchs,
  getClientIdHex,
  getClientMachineId,
  getIpxeOptions,
  getPxeVendorOptions,
  getUserClasses,
  Opt,
  textValue,
  userClassListValue,
} from "./mod.ts";

function encode(entries: [number, Uint8Array][]): Uint8Array {
  const w = new ByteWriter();
  encodeOptions(w, entries);
  return w.finish();
}

Deno.test("encodeOptions() then decodeOptions() is the identity, splitting long values", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 1000 })),
        { selector: ([c]) => c, maxLength: 10 },
      ),
      (entries) => {
        assert.deepEqual(decodeOptions(encode(entries)), new Map(entries));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("getUserClasses() reads RFC 3004 lists and iPXE's plain string", () => {
  const list = new Map([[Opt.UserClass, userClassListValue(["iPXE", "mesh"])]]);
  assert.deepEqual(getUserClasses(list), ["iPXE", "mesh"]);
  const plain = new Map([[Opt.UserClass, textValue("iPXE")]]);
  assert.deepEqual(getUserClasses(plain), ["iPXE"]);
  assert.equal(getUserClasses(new Map()), undefined);
});

Deno.test("getClientMachineId() flags malformed option 97 instead of failing", () => {
  const bad = new Map([[Opt.ClientMachineIdentifier, Uint8Array.of(1, 2, 3)]]);
  const id = getClientMachineId(bad);
  assert.ok(id && !id.valid);
  assert.deepEqual(id.raw, Uint8Array.of(1, 2, 3));
  const wrongType = new Uint8Array(17);
  wrongType[0] = 1;
  assert.equal(getClientMachineId(new Map([[97, wrongType]]))?.valid, false);
});

Deno.test("formatSmbiosUuid() swaps the little-endian SMBIOS fields", () => {
  const g = Uint8Array.from({ length: 16 }, (_, i) => i);
  assert.equal(formatSmbiosUuid(g), "03020100-0504-0706-0809-0a0b0c0d0e0f");
});

Deno.test("getClientArchs() reads a list and ignores a trailing odd byte", () => {
  assert.deepEqual(getClientArchs(new Map([[93, Uint8Array.of(0, 7, 0, 9, 1)]])), [7, 9]);
  assert.equal(getClientArchs(new Map([[93, Uint8Array.of(7)]])), undefined);
});

Deno.test("getClientIdHex() is lower-case hex including the type byte", () => {
  assert.equal(getClientIdHex(new Map([[61, Uint8Array.of(1, 0xab, 0xcd)]])), "01abcd");
  assert.equal(getClientIdHex(new Map([[61, new Uint8Array()]])), undefined);
});

Deno.test("PXE vendor options (43) round-trip", () => {
  const p = {
    discoveryControl: 8,
    bootServers: [{ type: 0x8000, ips: [0x0a000001, 0x0a000002] }],
    bootMenu: [{ type: 0x8000, description: "mesh" }],
    menuPrompt: { timeout: 0, prompt: "PXE" },
    bootItem: { type: 0x8000, layer: 0 },
  };
  assert.deepEqual(decodePxeVendorOptions(encodePxeVendorOptions(p)), p);
  const o = new Map([[Opt.VendorSpecific, encodePxeVendorOptions({ discoveryControl: 8 })]]);
  assert.deepEqual(o.get(43), Uint8Array.of(6, 1, 8, 255));
  assert.deepEqual(getPxeVendorOptions(o), { discoveryControl: 8 });
});

Deno.test("decodePxeVendorOptions() rejects truncated boot server and menu entries", () => {
  for (const bytes of [[8, 2, 0x80, 0], [8, 3, 0x80, 0, 2], [9, 4, 0x80, 0, 9, 0x41]]) {
    assert.throws(() => decodePxeVendorOptions(Uint8Array.from(bytes)), (e: unknown) => {
      assert.ok(e instanceof DecodeError);
      assert.match(e.field, /^option 43/);
      return true;
    });
  }
  assert.equal(getPxeVendorOptions(new Map([[43, Uint8Array.of(8, 9)]])), undefined);
});

Deno.test("getIpxeOptions() detects option 175 even when unreadable", () => {
  assert.deepEqual(getIpxeOptions(new Map([[175, Uint8Array.of(177, 9)]])), new Map());
  assert.deepEqual(
    getIpxeOptions(new Map([[175, Uint8Array.of(19, 1, 1)]])),
    new Map([[19, Uint8Array.of(1)]]),
  );
  assert.equal(getIpxeOptions(new Map()), undefined);
});
