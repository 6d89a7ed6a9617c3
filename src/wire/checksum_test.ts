import assert from "node:assert/strict";
import { internetChecksum } from "./checksum.ts";

Deno.test("internet checksum matches the RFC 1071 worked example", () => {
  // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2; the checksum is its complement.
  assert.equal(
    internetChecksum(new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7])),
    0x220d,
  );
  // Odd length pads with a zero byte.
  assert.equal(internetChecksum(new Uint8Array([0x01])), ~0x0100 & 0xffff);
});
