import assert from "node:assert/strict";
import fc from "fast-check";
import { internetChecksum } from "../wire/mod.ts";
import {
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  ETH_HEADER,
  IPV4_HEADER,
} from "./ethernet.ts";
import { DecodeError } from "../errors.ts";
import { bpfUdpDstPort, encodeBpf } from "./bpf.ts";

Deno.test("encodeUdpFrame() into a used buffer equals a fresh frame and decodes with valid checksums", () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 0, maxLength: 600 }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 255 }),
    (payload, ipId, junk) => {
      const f = {
        srcMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
        dstMac: BROADCAST_MAC,
        srcIp: 0x0a510001,
        dstIp: 0xffffffff,
        srcPort: 67,
        dstPort: 68,
        payload,
      };
      const into = new Uint8Array(2048).fill(junk);
      const reused = encodeUdpFrame(f, ipId, into);
      assert.equal(reused.buffer, into.buffer);
      assert.deepEqual(reused, encodeUdpFrame(f, ipId));
      assert.deepEqual(decodeUdpFrame(reused, true)?.payload, payload);
    },
  ));
});

Deno.test("a DHCP offer frame carries the hand-computed IPv4 header checksum", () => {
  const frame = encodeUdpFrame({
    srcMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
    dstMac: BROADCAST_MAC,
    srcIp: 0x0a510001, // 10.81.0.1
    dstIp: 0xffffffff,
    srcPort: 67,
    dstPort: 68,
    payload: new Uint8Array(300),
  });
  assert.equal(frame.length, 14 + 20 + 8 + 300);
  // Header: 45 10 01 48 00 00 40 00 40 11 [sum] 0a 51 00 01 ff ff ff ff
  // sum of words = 4510+0148+0000+4000+4011+0a51+0001+ffff+ffff = 0x2d0b9 -> d0bb -> ~ = 2f44
  assert.equal((frame[ETH_HEADER + 10]! << 8) | frame[ETH_HEADER + 11]!, 0x2f44);
  assert.equal(internetChecksum(frame, ETH_HEADER, ETH_HEADER + IPV4_HEADER), 0);
});

Deno.test("UDP frames round-trip and always carry valid checksums", () => {
  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 });
  fc.assert(fc.property(
    mac,
    mac,
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 0xffff }),
    fc.uint8Array({ maxLength: 600 }),
    (srcMac, dstMac, srcIp, dstIp, srcPort, dstPort, payload) => {
      const frame = encodeUdpFrame({ srcMac, dstMac, srcIp, dstIp, srcPort, dstPort, payload });
      const back = decodeUdpFrame(frame, true);
      assert.ok(back);
      assert.deepEqual([...back.srcMac], [...srcMac]);
      assert.deepEqual([...back.dstMac], [...dstMac]);
      assert.equal(back.srcIp, srcIp);
      assert.equal(back.dstIp, dstIp);
      assert.equal(back.srcPort, srcPort);
      assert.equal(back.dstPort, dstPort);
      assert.deepEqual([...back.payload], [...payload]);
      // UDP checksum over pseudo-header + datagram verifies to zero.
      const udp = frame.subarray(ETH_HEADER + IPV4_HEADER);
      const pseudo = new Uint8Array(12 + udp.length);
      pseudo.set(frame.subarray(ETH_HEADER + 12, ETH_HEADER + 20), 0);
      pseudo[9] = 17;
      pseudo[10] = udp.length >> 8;
      pseudo[11] = udp.length & 255;
      pseudo.set(udp, 12);
      assert.equal(internetChecksum(pseudo), 0);
    },
  ));
});

Deno.test("decodeUdpFrame returns null for other traffic and DecodeError for broken IPv4", () => {
  const arp = new Uint8Array(42);
  arp[12] = 0x08;
  arp[13] = 0x06;
  assert.equal(decodeUdpFrame(arp), null);
  const good = encodeUdpFrame({
    srcMac: BROADCAST_MAC,
    dstMac: BROADCAST_MAC,
    srcIp: 1,
    dstIp: 2,
    srcPort: 68,
    dstPort: 67,
    payload: new Uint8Array(10),
  });
  assert.throws(
    () => decodeUdpFrame(good.subarray(0, 30)),
    (e) => e instanceof DecodeError && e.field === "ipv4.header",
  );
  const badLen = good.slice();
  badLen[ETH_HEADER + 2] = 0xff;
  assert.throws(
    () => decodeUdpFrame(badLen),
    (e) => e instanceof DecodeError && e.field === "ipv4.total_length",
  );
  const badUdp = good.slice();
  badUdp[ETH_HEADER + IPV4_HEADER + 5] = 200;
  assert.throws(
    () => decodeUdpFrame(badUdp),
    (e) => e instanceof DecodeError && e.field === "udp.length",
  );
  const badSum = good.slice();
  badSum[ETH_HEADER + 10]! ^= 1;
  assert.throws(
    () => decodeUdpFrame(badSum, true),
    (e) => e instanceof DecodeError && e.field === "ipv4.checksum",
  );
  // Random bytes never throw anything but DecodeError.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
    const b = bytes.slice();
    if (b.length > 13) {
      b[12] = 8;
      b[13] = 0;
    }
    try {
      decodeUdpFrame(b, true);
    } catch (e) {
      assert.ok(e instanceof DecodeError, String(e));
    }
  }));
});

Deno.test("the BPF program for a UDP port is 11 instructions ending in accept/drop", () => {
  const code = encodeBpf(bpfUdpDstPort(67));
  assert.equal(code.length, 88);
  const v = new DataView(code.buffer);
  assert.equal(v.getUint32(8 * 8 + 4, true), 67); // jeq port
  assert.equal(v.getUint16(10 * 8, true), 0x06); // ret
  assert.equal(v.getUint32(10 * 8 + 4, true), 0); // drop
});
