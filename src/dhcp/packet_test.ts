import assert from "node:assert/strict";
import fc from "fast-check";
import { DecodeError } from "../errors.ts";
import { formatIpv4, parseIpv4 } from "../wire/mod.ts";
import { loadDhcpFixture, makeDiscover, parseHexFixture } from "../testing/dhcp_factories.ts";
import {
  clientMac,
  decodePacket,
  type DhcpPacket,
  encodePacket,
  formatGuid,
  getClientArchs,
  getClientMachineId,
  getClientNdi,
  getHostname,
  getIpxeOptions,
  getMaxMessageSize,
  getMessageType,
  getParameterRequestList,
  getRelayAgentInfo,
  getRequestedIp,
  getServerId,
  getUserClasses,
  getVendorClass,
  MessageType,
  MIN_BOOTP_LENGTH,
  Opt,
  wantsBroadcast,
} from "./mod.ts";

function header(overrides: Partial<Record<number, number>> = {}): Uint8Array {
  const b = new Uint8Array(240);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  for (const [k, v] of Object.entries(overrides)) b[Number(k)] = v!;
  return b;
}
function withOptions(opts: number[], base = header()): Uint8Array {
  const out = new Uint8Array(base.length + opts.length);
  out.set(base);
  out.set(opts, base.length);
  return out;
}
function decodeError(bytes: Uint8Array): DecodeError {
  try {
    decodePacket(bytes);
  } catch (e) {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${e}`);
    return e;
  }
  assert.fail("decodePacket() accepted the packet");
}

Deno.test("decodePacket() reads a BIOS PXE ROM DISCOVER fixture", async () => {
  const p = decodePacket(await loadDhcpFixture("bios_pxe_discover.hex"));
  assert.equal(getMessageType(p.options), MessageType.Discover);
  assert.equal(clientMac(p), "52:54:00:12:34:56");
  assert.equal(p.xid, 0x1c0a5e01);
  assert.equal(p.secs, 4);
  assert.ok(wantsBroadcast(p));
  assert.deepEqual(getClientArchs(p.options), [0]);
  assert.deepEqual(getClientNdi(p.options), { type: 1, major: 2, minor: 1 });
  assert.equal(getVendorClass(p.options), "PXEClient:Arch:00000:UNDI:002001");
  assert.equal(getMaxMessageSize(p.options), 1260);
  assert.equal(getParameterRequestList(p.options)?.length, 24);
  const id = getClientMachineId(p.options);
  assert.ok(id?.valid);
  assert.equal(formatGuid(id.guid), "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90");
});

Deno.test("decodePacket() reads an OVMF x64 DISCOVER fixture with option 97", async () => {
  const p = decodePacket(await loadDhcpFixture("ovmf_x64_discover.hex"));
  assert.deepEqual(getClientArchs(p.options), [7]);
  assert.ok(!wantsBroadcast(p));
  const id = getClientMachineId(p.options);
  assert.ok(id?.valid);
  assert.equal(formatGuid(id.guid), "11223344-5566-7788-99aa-bbccddeeff00");
  assert.equal(getParameterRequestList(p.options)?.length, 35);
});

Deno.test("decodePacket() reads an iPXE DISCOVER fixture with plain user class and 175", async () => {
  const p = decodePacket(await loadDhcpFixture("ipxe_discover.hex"));
  assert.deepEqual(getUserClasses(p.options), ["iPXE"]);
  const ipxe = getIpxeOptions(p.options);
  assert.ok(ipxe);
  assert.deepEqual([...ipxe.keys()], [177, 235, 19]);
  assert.deepEqual(ipxe.get(235), Uint8Array.of(1, 0, 0));
  assert.deepEqual(
    p.options.get(Opt.ClientIdentifier),
    Uint8Array.of(1, 0x52, 0x54, 0, 0x11, 1, 1),
  );
});

Deno.test("decodePacket() reads a UEFI HTTPClient DISCOVER fixture", async () => {
  const p = decodePacket(await loadDhcpFixture("uefi_http_discover.hex"));
  assert.equal(getVendorClass(p.options), "HTTPClient:Arch:00016");
  assert.deepEqual(getClientArchs(p.options), [16]);
});

Deno.test("decodePacket() reads a relayed REQUEST fixture with giaddr and option 82", async () => {
  const p = decodePacket(await loadDhcpFixture("relayed_request.hex"));
  assert.equal(formatIpv4(p.giaddr), "10.20.0.1");
  assert.equal(p.hops, 1);
  assert.equal(getMessageType(p.options), MessageType.Request);
  assert.equal(formatIpv4(getRequestedIp(p.options)!), "10.20.0.50");
  assert.equal(formatIpv4(getServerId(p.options)!), "10.0.0.1");
  assert.equal(getHostname(p.options), "node7");
  assert.deepEqual(
    getRelayAgentInfo(p.options),
    Uint8Array.of(1, 4, 0x65, 0x74, 0x68, 0x31, 2, 6, 2, 0, 0, 0, 0, 7),
  );
});

Deno.test("encodePacket() round-trips every fixture through decodePacket()", async () => {
  for (
    const name of [
      "bios_pxe_discover.hex",
      "ovmf_x64_discover.hex",
      "ipxe_discover.hex",
      "uefi_http_discover.hex",
      "relayed_request.hex",
    ]
  ) {
    const bytes = await loadDhcpFixture(name);
    const p = decodePacket(bytes);
    const again = encodePacket(p);
    assert.deepEqual(decodePacket(again), p, name);
    // Fixtures contain no pad bytes, so the encoding is byte-identical up to padding.
    assert.deepEqual(again.subarray(0, bytes.length), bytes, name);
  }
});

Deno.test("encodePacket() into a used scratch buffer gives the same bytes as a fresh one", async () => {
  // The server encodes every reply into one buffer: nothing of an earlier, longer packet may show.
  const scratch = new Uint8Array(1500).fill(0xa5);
  for (const name of ["ovmf_x64_discover.hex", "bios_pxe_discover.hex", "relayed_request.hex"]) {
    const p = decodePacket(await loadDhcpFixture(name));
    const fresh = encodePacket(p);
    const reused = encodePacket(p, scratch);
    assert.equal(reused.buffer, scratch.buffer, `${name}: written into the scratch`);
    assert.deepEqual(reused, fresh, name);
  }
  // A scratch too small for the packet is left alone.
  const small = new Uint8Array(100);
  const bytes = encodePacket(makeDiscover(), small);
  assert.notEqual(bytes.buffer, small.buffer);
  assert.deepEqual(bytes, encodePacket(makeDiscover()));
});

Deno.test("encodePacket() pads short packets to 300 bytes", () => {
  const bytes = encodePacket(makeDiscover());
  assert.equal(bytes.length, MIN_BOOTP_LENGTH);
  assert.equal(bytes[bytes.length - 1], 0);
});

Deno.test("decodePacket() rejects packets shorter than 240 bytes", () => {
  const e = decodeError(header().subarray(0, 239));
  assert.equal(e.field, "packet");
  assert.equal(e.offset, 239);
});

Deno.test("decodePacket() rejects an unknown op", () => {
  assert.equal(decodeError(header({ 0: 7 })).field, "op");
});

Deno.test("decodePacket() rejects hlen above 16", () => {
  const e = decodeError(header({ 2: 17 }));
  assert.equal(e.field, "hlen");
  assert.equal(e.offset, 2);
});

Deno.test("decodePacket() rejects a bad magic cookie", () => {
  const e = decodeError(header({ 239: 0x64 }));
  assert.equal(e.field, "cookie");
  assert.equal(e.offset, 236);
});

Deno.test("decodePacket() rejects an option without its length byte", () => {
  const e = decodeError(withOptions([53]));
  assert.equal(e.field, "options option 53 length");
  assert.equal(e.offset, 241);
});

Deno.test("decodePacket() rejects an option whose length runs past the end", () => {
  const e = decodeError(withOptions([53, 1, 1, 55, 200, 1, 2, 3]));
  assert.equal(e.field, "options option 55");
  assert.equal(e.offset, 243);
});

Deno.test("decodePacket() rejects fixed-size options of the wrong length", () => {
  for (const [code, len] of [[53, 2], [50, 3], [51, 5], [54, 2], [57, 1]] as const) {
    const e = decodeError(withOptions([code, len, ...new Array(len).fill(1), 255]));
    assert.equal(e.field, `option ${code}`);
    assert.equal(e.offset, 240);
  }
});

Deno.test("decodePacket() rejects a malformed overload option", () => {
  assert.equal(decodeError(withOptions([52, 1, 4, 255])).field, "option 52");
  assert.equal(decodeError(withOptions([52, 2, 1, 1, 255])).field, "option 52");
  assert.equal(decodeError(withOptions([52, 1, 0, 255])).field, "option 52");
});

Deno.test("decodePacket() rejects a bad option inside an overloaded file field", () => {
  const base = header();
  base.set([12, 200], 108); // hostname claiming 200 bytes inside the 128-byte file field
  const e = decodeError(withOptions([52, 1, 1, 255], base));
  assert.equal(e.field, "file option 12");
  assert.equal(e.offset, 108);
});

Deno.test("decodePacket() reads options from file and sname when overloaded (RFC 2132 §9.3)", () => {
  const base = header();
  base.set([12, 3, 0x61, 0x62, 0x63, 255], 108); // file: hostname "abc"
  base.set([12, 2, 0x64, 0x65, 15, 1, 0x78, 255], 44); // sname: more hostname, domain "x"
  const p = decodePacket(withOptions([53, 1, 1, 52, 1, 3, 255], base));
  assert.equal(getHostname(p.options), "abcde"); // options, then file, then sname (RFC 3396)
  assert.equal(p.file, "");
  assert.equal(p.sname, "");
  assert.ok(!p.options.has(52));
  assert.deepEqual([...p.options.keys()], [53, 12, 15]);
});

Deno.test("decodePacket() ignores option 52 inside an overloaded field (no loop)", () => {
  const base = header();
  base.set([52, 1, 3, 12, 1, 0x7a, 255], 108);
  base.set([52, 1, 1, 255], 44);
  const p = decodePacket(withOptions([52, 1, 3, 255], base));
  assert.equal(getHostname(p.options), "z");
  assert.ok(!p.options.has(52));
});

Deno.test("decodePacket() concatenates repeated options (RFC 3396)", () => {
  const p = decodePacket(withOptions([12, 2, 0x61, 0x62, 53, 1, 1, 12, 1, 0x63, 255]));
  assert.equal(getHostname(p.options), "abc");
});

Deno.test("decodePacket() tolerates a missing End option and pad bytes", () => {
  const p = decodePacket(withOptions([0, 0, 53, 1, 3, 0]));
  assert.equal(getMessageType(p.options), MessageType.Request);
});

Deno.test("decodePacket() accepts a huge option 55 spread over several options", () => {
  const big = Array.from({ length: 255 }, (_, i) => i + 1);
  const p = decodePacket(withOptions([55, 255, ...big, 55, 255, ...big, 53, 1, 1, 255]));
  assert.equal(getParameterRequestList(p.options)?.length, 510);
});

Deno.test("encodePacket() splits values longer than 255 bytes (RFC 3396)", () => {
  const long = new Uint8Array(600).fill(0x41);
  const p = { ...makeDiscover(), options: new Map([[Opt.Hostname, long]]) };
  const bytes = encodePacket(p);
  assert.deepEqual([bytes[240], bytes[241]], [12, 255]);
  assert.deepEqual([bytes[240 + 257], bytes[240 + 258]], [12, 255]);
  assert.deepEqual([bytes[240 + 514], bytes[240 + 515]], [12, 90]);
  assert.deepEqual(decodePacket(bytes).options.get(Opt.Hostname), long);
});

Deno.test("encodePacket() refuses an sname longer than the field", () => {
  assert.throws(() => encodePacket({ ...makeDiscover(), sname: "x".repeat(65) }), RangeError);
});

Deno.test("decodePacket() only ever throws DecodeError on arbitrary bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
      try {
        decodePacket(bytes);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decodePacket() only ever throws DecodeError on mutated valid packets", async () => {
  const seed = await loadDhcpFixture("ipxe_discover.hex");
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 })), {
        maxLength: 8,
      }),
      fc.nat(seed.length),
      (edits, cut) => {
        const b = seed.slice(0, Math.max(cut, 236));
        for (const [at, v] of edits) if (at < b.length) b[at] = v;
        try {
          const p = decodePacket(b);
          // Anything that decodes re-encodes to the same packet.
          assert.deepEqual(decodePacket(encodePacket(p)), p);
        } catch (e) {
          if (!(e instanceof DecodeError)) throw e;
        }
      },
    ),
    { numRuns: 3000 },
  );
});

const latin1 = (max: number) =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: max }).map((cs) =>
    String.fromCharCode(...cs)
  );
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const optionCode = fc.integer({ min: 1, max: 254 }).filter((c) =>
  ![50, 51, 52, 53, 54, 57].includes(c)
);
const packetArb: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom(1, 2),
  htype: fc.integer({ min: 0, max: 255 }),
  hlen: fc.integer({ min: 0, max: 16 }),
  hops: fc.integer({ min: 0, max: 255 }),
  xid: u32,
  secs: fc.integer({ min: 0, max: 0xffff }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  ciaddr: u32,
  yiaddr: u32,
  siaddr: u32,
  giaddr: u32,
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  sname: latin1(64),
  file: latin1(128),
  options: fc.uniqueArray(fc.tuple(optionCode, fc.uint8Array({ maxLength: 600 })), {
    selector: ([c]) => c,
    maxLength: 12,
  }).map((entries) => new Map(entries)),
}).map((r) => ({ ...r })); // fc.record builds null-prototype objects

Deno.test("decodePacket(encodePacket(p)) equals p for arbitrary packets", () => {
  fc.assert(
    fc.property(packetArb, (p) => {
      assert.deepEqual(decodePacket(encodePacket(p)), p);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("parseHexFixture() expands repeats and skips comments", () => {
  assert.deepEqual(parseHexFixture("# c\n01 02*3 # x\nff"), Uint8Array.of(1, 2, 2, 2, 255));
  assert.equal(parseIpv4("10.0.0.1"), 0x0a000001);
});
