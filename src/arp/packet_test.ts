import assert from "node:assert/strict";
import fc from "fast-check";
import { ArpOp, arpProbe, decodeArpFrame, encodeArpFrame, provesInUse } from "./mod.ts";
import { DecodeError } from "../errors.ts";

const US = new Uint8Array([2, 0, 0, 0, 0, 1]);
const THEM = new Uint8Array([2, 0, 0, 0, 0, 2]);

Deno.test("an RFC 5227 probe is a broadcast request with sender IP 0.0.0.0", () => {
  const f = encodeArpFrame(arpProbe(US, 0x0a510064));
  // The layout `arping -D` (duplicate address detection) sends: broadcast, op 1, spa 0.
  const hex = "ffffffffffff020000000001" + "0806" + "0001080006040001" + "020000000001" +
    "00000000" +
    "000000000000" + "0a510064";
  assert.equal([...f].map((b) => b.toString(16).padStart(2, "0")).join(""), hex);
  const back = decodeArpFrame(f)!;
  assert.equal(back.op, ArpOp.request);
  assert.equal(back.spa, 0);
  assert.equal(back.tpa, 0x0a510064);
});

Deno.test("replies and announcements from the address prove it in use; our own frames do not", () => {
  const ip = 0x0a510064;
  const reply = { op: ArpOp.reply, sha: THEM, spa: ip, tha: US, tpa: 0, ethSrc: THEM, ethDst: US };
  assert.equal(provesInUse(reply, ip, US), true);
  assert.equal(provesInUse({ ...reply, spa: ip + 1 }, ip, US), false);
  assert.equal(provesInUse(arpProbe(THEM, ip), ip, US), true, "a concurrent probe by another host");
  assert.equal(provesInUse(arpProbe(US, ip), ip, US), false, "our own probe echoed back");
});

Deno.test("decoding ARP throws only DecodeError and round-trips", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 6, maxLength: 6 }),
      fc.nat(),
      fc.nat(),
      (mac, spa, tpa) => {
        const p = {
          op: 2,
          sha: mac,
          spa: spa >>> 0,
          tha: US,
          tpa: tpa >>> 0,
          ethSrc: mac,
          ethDst: US,
        };
        const back = decodeArpFrame(encodeArpFrame(p))!;
        assert.equal(back.spa, p.spa);
        assert.equal(back.tpa, p.tpa);
        assert.deepEqual([...back.sha], [...mac]);
      },
    ),
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => {
    const b = bytes.slice();
    if (b.length > 13) {
      b[12] = 8;
      b[13] = 6;
    }
    try {
      decodeArpFrame(b);
    } catch (e) {
      assert.ok(e instanceof DecodeError);
    }
  }));
});
