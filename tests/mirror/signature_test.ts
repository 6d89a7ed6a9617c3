/**
 * Signature and identity checks against files made as abuild makes them,
 * with openssl as the independent judge of the signed bytes.
 */
import assert from "node:assert/strict";
import {
  ApkVerifyError,
  checkDataHash,
  checkIdentity,
  readPackageHead,
  readSignatures,
  verifyApkIndex,
  VerifyFailure,
} from "../../src/mirror/mod.ts";
import { createHash } from "node:crypto";
import { concatBytes as concat } from "../../src/wire/mod.ts";
import { abuildSign, makeApk, makeKey, type RepoKey, unsignedIndex } from "./_repo_fixture.ts";

const dir = await Deno.makeTempDir({ prefix: "mesh-sig-" });
const key = await makeKey(dir);
const other = await makeKey(`${dir}`, "someone-else-00000000.rsa.pub");
const keys = (k: RepoKey) => new Map([[k.name, k.publicPem]]);
const TEXT = "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:a\nV:1-r0\nA:x86_64\nS:1\nI:1\n\n";

async function openssl(args: string[]): Promise<boolean> {
  const r = await new Deno.Command("openssl", { args, stdout: "null", stderr: "null" }).output();
  return r.success;
}

/** What openssl says about `bytes`, split where mesh says the signed part starts. */
async function opensslVerifies(bytes: Uint8Array, k: RepoKey, digest = "-sha1"): Promise<boolean> {
  const sig = readSignatures(bytes, "index");
  assert.ok(sig);
  await Deno.writeFile(`${dir}/sig`, sig.signatures[0]!.signature);
  await Deno.writeFile(`${dir}/data`, bytes.subarray(sig.member.end));
  await Deno.writeTextFile(`${dir}/pub.pem`, k.publicPem);
  return await openssl([
    "dgst",
    digest,
    "-verify",
    `${dir}/pub.pem`,
    "-signature",
    `${dir}/sig`,
    `${dir}/data`,
  ]);
}

function refused(fn: () => unknown, kind: VerifyFailure, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApkVerifyError, String(e));
    assert.equal(e.kind, kind);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
}

Deno.test("index: a good index verifies, and openssl agrees on the same bytes", async () => {
  const unsigned = unsignedIndex(TEXT);
  const signed = await abuildSign(unsigned, key, dir);
  const v = verifyApkIndex(signed, keys(key), "main/x86_64/APKINDEX.tar.gz", "/host0/keys/apk");
  assert.equal(v.keyName, key.name);
  assert.equal(v.type, "RSA");
  assert.equal(v.apkindex, TEXT);
  assert.equal(v.description, "mesh-test");
  // The signed part is exactly the unsigned file abuild-sign was given.
  assert.deepEqual(signed.subarray(v.signedStart), unsigned);
  assert.equal(await opensslVerifies(signed, key), true);
});

Deno.test("index: RSA256 signatures use SHA-256", async () => {
  const signed = await abuildSign(unsignedIndex(TEXT), key, dir, "RSA256");
  const v = verifyApkIndex(signed, keys(key), "i", "/k");
  assert.equal(v.type, "RSA256");
  assert.equal(await opensslVerifies(signed, key, "-sha256"), true);
});

Deno.test("index: tampered, unsigned, unknown key and truncated are refused, as openssl does", async () => {
  const unsigned = unsignedIndex(TEXT);
  const signed = await abuildSign(unsigned, key, dir);
  // Tampered: the index stream swapped for another one (still valid gzip).
  const sigLen = signed.length - unsigned.length;
  const tampered = concat([signed.subarray(0, sigLen), unsignedIndex(TEXT.replace("P:a", "P:b"))]);
  refused(
    () => verifyApkIndex(tampered, keys(key), "main/x86_64/APKINDEX.tar.gz", "/k"),
    VerifyFailure.BadSignature,
    /main\/x86_64\/APKINDEX\.tar\.gz: the RSA signature by mesh-test-61a2b3c4\.rsa\.pub does not match/,
  );
  assert.equal(await opensslVerifies(tampered, key), false);
  refused(
    () => verifyApkIndex(unsigned, keys(key), "idx", "/k"),
    VerifyFailure.NoSignature,
    /idx is not signed/,
  );
  refused(
    () => verifyApkIndex(signed, keys(other), "idx", "/host0/keys/apk"),
    VerifyFailure.UnknownKey,
    /idx is signed with mesh-test-61a2b3c4\.rsa\.pub, which is not in \/host0\/keys\/apk: copy/,
  );
  refused(
    () => verifyApkIndex(signed.subarray(0, signed.length - 40), keys(key), "idx", "/k"),
    VerifyFailure.Truncated,
    /idx: truncated/,
  );
  refused(
    () => verifyApkIndex(signed.subarray(0, sigLen), keys(key), "idx", "/k"),
    VerifyFailure.Truncated,
    /nothing after the signature/,
  );
  const junk = new TextEncoder().encode("<html>503 Service Unavailable</html>");
  refused(() => verifyApkIndex(junk, keys(key), "idx", "/k"), VerifyFailure.Format, /not a gzip/);
});

Deno.test("package: C: is the SHA-1 of the control stream and datahash pins the data", () => {
  const apk = makeApk(
    { name: "foo", version: "1.2-r0", depends: ["so:libc.musl-x86_64.so.1"] },
    key,
    "x86_64",
  );
  const head = readPackageHead(apk.bytes, "foo.apk", true);
  assert.equal(head.checksum, apk.checksum);
  checkIdentity(head, apk.checksum, "foo.apk");
  assert.deepEqual(head.pkginfo.get("depend"), ["so:libc.musl-x86_64.so.1"]);
  const data = apk.bytes.subarray(head.dataStart);
  checkDataHash(head, createHash("sha256").update(data).digest("hex"), "foo.apk");
  refused(
    () => checkIdentity(head, "Q1" + "A".repeat(27) + "=", "foo.apk"),
    VerifyFailure.Checksum,
    /foo\.apk: control checksum .* does not match/,
  );
  refused(
    () => checkDataHash(head, "00".repeat(32), "foo.apk"),
    VerifyFailure.Checksum,
    /does not match \.PKGINFO datahash/,
  );
  // A head that ends inside the control stream asks for more bytes.
  assert.throws(() => readPackageHead(apk.bytes.subarray(0, head.dataStart - 5), "f", false), {
    name: "NeedMoreBytes",
  });
  refused(
    () => readPackageHead(apk.bytes.subarray(0, head.dataStart - 5), "f", true),
    VerifyFailure.Truncated,
    /truncated/,
  );
});

Deno.test("fixture: GNU tar reads a made .apk and index as the one tar apk sees", async () => {
  const apk = makeApk({ name: "foo", version: "1-r0" }, key, "x86_64");
  await Deno.writeFile(`${dir}/foo.apk`, apk.bytes);
  await Deno.writeFile(`${dir}/APKINDEX.tar.gz`, await abuildSign(unsignedIndex(TEXT), key, dir));
  const list = async (f: string) => {
    const r = await new Deno.Command("tar", { args: ["-tzf", f], stdout: "piped" }).output();
    return new TextDecoder().decode(r.stdout).trim().split("\n");
  };
  assert.deepEqual(await list(`${dir}/foo.apk`), [
    `.SIGN.RSA.${key.name}`,
    ".PKGINFO",
    "usr/share/foo/payload",
  ]);
  assert.deepEqual(await list(`${dir}/APKINDEX.tar.gz`), [
    `.SIGN.RSA.${key.name}`,
    "DESCRIPTION",
    "APKINDEX",
  ]);
});

Deno.test({
  name: "cleanup",
  fn: async () => await Deno.remove(dir, { recursive: true }),
});
