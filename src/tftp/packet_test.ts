import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  Opcode,
} from "./packet.ts";

Deno.test("RRQ with options round-trips; option names are case-insensitive", () => {
  const bytes = encodeRequest(
    Opcode.RRQ,
    "undionly.kpxe",
    "OCTET",
    new Map([["BlkSize", "1468"], ["tsize", "0"]]),
  );
  const p = decodePacket(bytes);
  assert.equal(p.op, Opcode.RRQ);
  if (p.op !== Opcode.RRQ) return;
  assert.equal(p.file, "undionly.kpxe");
  assert.equal(p.mode, "octet");
  assert.deepEqual([...p.options], [["blksize", "1468"], ["tsize", "0"]]);
});

Deno.test("a dangling option name after the mode is ignored, not fatal", () => {
  const base = encodeRequest(Opcode.RRQ, "f", "octet");
  const bytes = new Uint8Array([...base, ...new TextEncoder().encode("blksize\0"), 0x31]);
  const p = decodePacket(bytes);
  assert.equal(p.op, Opcode.RRQ);
  if (p.op === Opcode.RRQ) assert.equal(p.options.size, 0);
});

Deno.test("DATA, ACK, ERROR and OACK round-trip", () => {
  const d = decodePacket(encodeData(70000, new Uint8Array([1, 2, 3])));
  assert.deepEqual(d, { op: Opcode.DATA, block: 70000 & 0xffff, data: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(decodePacket(encodeAck(65535)), { op: Opcode.ACK, block: 65535 });
  assert.deepEqual(decodePacket(encodeError(1, "file not found")), {
    op: Opcode.ERROR,
    code: 1,
    message: "file not found",
  });
  const o = decodePacket(encodeOack(new Map([["blksize", "1468"]])));
  assert.equal(o.op, Opcode.OACK);
  if (o.op === Opcode.OACK) assert.equal(o.options.get("blksize"), "1468");
});

Deno.test("malformed packets throw DecodeError naming the field", () => {
  assert.throws(() => decodePacket(new Uint8Array([0])), DecodeError);
  assert.throws(() => decodePacket(new Uint8Array([0, 9, 0, 0])), /opcode/);
  assert.throws(() => decodePacket(new Uint8Array([0, 1, 0x61])), /filename/);
  assert.throws(() => decodePacket(new Uint8Array([0, 1, 0x61, 0, 0x6f])), /mode/);
  assert.throws(() => decodePacket(new Uint8Array([0, 1, 0xc0, 0xae, 0, 0x6f, 0])), /UTF-8/);
  assert.throws(() => decodePacket(new Uint8Array([0, 4, 1])), /block/);
});

Deno.test("property: decodePacket either returns a packet or throws DecodeError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      try {
        decodePacket(bytes);
      } catch (e) {
        assert.ok(e instanceof DecodeError, String(e));
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("property: requests round-trip for NUL-free names", () => {
  const text = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes("\0"));
  fc.assert(fc.property(text, text, (file, value) => {
    const p = decodePacket(encodeRequest(Opcode.RRQ, file, "octet", new Map([["x", value]])));
    assert.equal(p.op, Opcode.RRQ);
    if (p.op !== Opcode.RRQ) return;
    assert.equal(p.file, file);
    assert.equal(p.options.get("x"), value);
  }));
});
