/** gzip member boundaries and the small tar reader (pure). */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { GzipError, readGzipMember, readGzipMembers } from "./gzip_members.ts";
import { readTar, TarError } from "./tar_read.ts";
import { EntryType, writeTar } from "../apkovl/mod.ts";

const enc = new TextEncoder();
const gz = (s: string) => new Uint8Array(gzipSync(enc.encode(s)));
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
};

Deno.test("gzip members: exact boundaries of concatenated streams", () => {
  const a = gz("first ".repeat(500)), b = gz("second"), c = gz("");
  const ms = readGzipMembers(cat(a, b, c));
  assert.deepEqual(ms.map((m) => [m.start, m.end]), [
    [0, a.length],
    [a.length, a.length + b.length],
    [a.length + b.length, a.length + b.length + c.length],
  ]);
  assert.equal(new TextDecoder().decode(ms[1]!.data), "second");
});

Deno.test("gzip members: header with FNAME and FEXTRA is skipped correctly", () => {
  const plain = gz("named");
  // Rebuild the header with FEXTRA (4 bytes) and FNAME "x.tar".
  const header = new Uint8Array([0x1f, 0x8b, 8, 4 | 8, 0, 0, 0, 0, 0, 3, 4, 0, 1, 2, 3, 4]);
  const withName = cat(header, enc.encode("x.tar\0"), plain.subarray(10));
  const m = readGzipMember(cat(withName, gz("next")), 0);
  assert.equal(m.end, withName.length);
  assert.equal(new TextDecoder().decode(m.data), "named");
});

Deno.test("gzip members: truncation, corruption and bombs are errors with an offset", () => {
  const a = gz("hello ".repeat(100));
  const cases: [Uint8Array, RegExp][] = [
    [a.subarray(0, 5), /truncated gzip header \(at byte 0\)/],
    [a.subarray(0, a.length - 4), /truncated gzip trailer/],
    [a.subarray(0, 14), /truncated gzip stream/],
    [enc.encode("PK\x03\x04 zip file"), /not a gzip stream/],
  ];
  const badCrc = a.slice();
  badCrc[a.length - 8]! ^= 1;
  cases.push([badCrc, /CRC32 mismatch/]);
  for (const [bytes, re] of cases) {
    assert.throws(
      () => readGzipMembers(bytes),
      (e: unknown) => e instanceof GzipError && re.test(e.message),
    );
  }
  const bomb = new Uint8Array(gzipSync(new Uint8Array(1 << 20)));
  assert.throws(() => readGzipMember(bomb, 0, 4096), /inflates to more than 4096 bytes/);
  // Reading from an offset reports offsets of the whole buffer.
  assert.deepEqual(readGzipMembers(cat(a, gz("x")), undefined, a.length).map((m) => m.start), [
    a.length,
  ]);
});

const file = (path: string, text: string) => ({
  path,
  type: EntryType.File,
  mode: 0o644,
  uid: 0,
  gid: 0,
  uname: "root",
  gname: "root",
  content: enc.encode(text),
});

Deno.test("tar: cut archives (no end blocks) and full ones read the same", () => {
  const full = writeTar([file(".SIGN.RSA.k.rsa.pub", "sig"), file(".PKGINFO", "pkgname = a\n")]);
  const cut = full.subarray(0, full.length - 1024);
  for (const t of [full, cut]) {
    assert.deepEqual(readTar(t).map((f) => [f.name, new TextDecoder().decode(f.data)]), [
      [".SIGN.RSA.k.rsa.pub", "sig"],
      [".PKGINFO", "pkgname = a\n"],
    ]);
  }
});

Deno.test("tar: GNU long names; truncated entries and bad checksums are errors", () => {
  const long = "x".repeat(150);
  const longHeader = writeTar([file("././@LongLink", long)]).subarray(0, 1024);
  longHeader[156] = "L".charCodeAt(0);
  // Recompute the header checksum after changing the type flag.
  longHeader.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += longHeader[i]!;
  longHeader.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  const t = cat(longHeader, writeTar([file("short", "body")]));
  assert.deepEqual(readTar(t).map((f) => f.name), [long]);
  const one = writeTar([file("a", "x".repeat(600))]);
  assert.throws(() => readTar(one.subarray(0, 700)), TarError);
  const bad = one.slice();
  bad[0] = 0x41;
  assert.throws(() => readTar(bad), /bad tar header checksum/);
});
