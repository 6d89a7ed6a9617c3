/**
 * @module
 * apk v2 signatures, as apk-tools' `extract_v2.c` checks them. A signed file
 * is a concatenation of gzip streams: the first holds a tar (cut: no end
 * blocks) of `.SIGN.<ALG>.<keyname>` entries, whose content is a PKCS#1 v1.5
 * signature; the digest runs over the RAW (compressed) bytes of what follows:
 * for an index everything after the first stream up to the end of the file,
 * for a package only the control stream (its `.PKGINFO` then pins the data
 * stream with `datahash`). `RSA` is SHA-1, `RSA256` SHA-256, `RSA512` SHA-512;
 * the key is looked up by file name (`<keyname>`, e.g.
 * `alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub`); signature entries
 * over 64 KiB are ignored and one trusted, matching signature suffices.
 * Pure: keys come in as PEM text.
 */
import { concatBytes } from "../wire/mod.ts";
import { verify } from "node:crypto";
import { GzipError, type GzipMember, readGzipMember, readGzipMembers } from "./gzip_members.ts";
import { readTar, TarError, type TarFile } from "./tar_read.ts";

/** Why a file was refused. */
export const VerifyFailure = {
  NoSignature: "no-signature",
  UnknownKey: "unknown-key",
  BadSignature: "bad-signature",
  Truncated: "truncated",
  Format: "format",
  Checksum: "checksum",
  Size: "size",
} as const;
export type VerifyFailure = typeof VerifyFailure[keyof typeof VerifyFailure];

/** A file that does not verify. The message is one line that names the file. */
export class ApkVerifyError extends Error {
  override name = "ApkVerifyError";
  constructor(readonly kind: VerifyFailure, message: string, readonly keyNames: string[] = []) {
    super(message);
  }
}

/** Trusted public keys by file name (`<keyname>.rsa.pub`), PEM text. */
export type TrustedKeys = ReadonlyMap<string, string>;

const DIGEST = { RSA: "sha1", RSA256: "sha256", RSA512: "sha512", DSA: "sha1" } as const;
type SignatureType = keyof typeof DIGEST;

/** One `.SIGN.` entry. */
export interface ApkSignature {
  readonly type: SignatureType;
  readonly keyName: string;
  readonly digest: "sha1" | "sha256" | "sha512";
  readonly signature: Uint8Array;
}

/** apk ignores larger signature files (a guard against memory abuse). */
export const MAX_SIGNATURE_BYTES = 65536;
/** Inflated size allowed for the signature stream. */
const MAX_SIGNATURE_STREAM = 1 << 20;
/** Inflated size allowed for an index (Alpine's community index is ~10 MiB). */
export const MAX_INDEX_BYTES = 256 << 20;

/** `.SIGN.RSA256.key.rsa.pub` → its parts; undefined for other names. */
export function parseSignatureName(
  name: string,
): { type: SignatureType; keyName: string } | undefined {
  const m = /^\.SIGN\.(RSA512|RSA256|RSA|DSA)\.(.+)$/.exec(name);
  if (!m || m[2]!.includes("/")) return undefined;
  return { type: m[1] as SignatureType, keyName: m[2]! };
}

/** Maps gzip/tar failures to a VerifyFailure that names `file`. */
export function asVerifyError(e: unknown, file: string): never {
  if (e instanceof ApkVerifyError) throw e;
  if (e instanceof GzipError) {
    const truncated = /truncated/.test(e.message);
    throw new ApkVerifyError(
      truncated ? VerifyFailure.Truncated : VerifyFailure.Format,
      `${file}: ${truncated ? "truncated" : "malformed"}: ${e.message}`,
    );
  }
  if (e instanceof TarError) {
    const truncated = /truncated/.test(e.message);
    throw new ApkVerifyError(
      truncated ? VerifyFailure.Truncated : VerifyFailure.Format,
      `${file}: ${e.message}`,
    );
  }
  throw e;
}

/**
 * Reads the leading signature stream. Returns null when the first stream
 * holds no `.SIGN.` entry (an unsigned file: that stream is already content).
 */
export function readSignatures(
  bytes: Uint8Array,
  file: string,
): { member: GzipMember; files: TarFile[]; signatures: ApkSignature[] } | null {
  try {
    const member = readGzipMember(bytes, 0, MAX_SIGNATURE_STREAM);
    const files = readTar(member.data);
    if (!files.some((f) => f.name.startsWith(".SIGN."))) return null;
    const signatures: ApkSignature[] = [];
    for (const f of files) {
      const parsed = parseSignatureName(f.name);
      if (!parsed) {
        if (f.name.startsWith(".SIGN.")) continue; // unknown algorithm: apk skips it too
        throw new ApkVerifyError(
          VerifyFailure.Format,
          `${file}: the signature stream also holds "${f.name}", which no signature covers`,
        );
      }
      if (f.data.length > MAX_SIGNATURE_BYTES) continue;
      signatures.push({ ...parsed, digest: DIGEST[parsed.type], signature: f.data });
    }
    return { member, files, signatures };
  } catch (e) {
    return asVerifyError(e, file);
  }
}

/** What `checkSignature` found. */
export interface SignatureCheck {
  readonly keyName: string;
  readonly type: SignatureType;
}

/**
 * Verifies `signed` against the first signature made by a key in `keys`.
 * `keysDir` only goes into the message that says where a missing key belongs.
 */
export function checkSignature(
  signatures: readonly ApkSignature[],
  signed: Uint8Array,
  keys: TrustedKeys,
  file: string,
  keysDir: string,
): SignatureCheck {
  const names = signatures.map((s) => s.keyName);
  const usable = signatures.filter((s) => s.type !== "DSA" && keys.has(s.keyName));
  if (usable.length === 0) {
    const which = names.length === 1 ? names[0] : `one of ${names.join(", ")}`;
    throw new ApkVerifyError(
      VerifyFailure.UnknownKey,
      `${file} is signed with ${which}, which is not in ${keysDir}: ` +
        `copy that public key there (Alpine's keys: /etc/apk/keys on any Alpine system, ` +
        `or https://alpinelinux.org/keys/)`,
      names,
    );
  }
  for (const s of usable) {
    let ok: boolean;
    try {
      ok = verify(s.digest, signed, keys.get(s.keyName)!, s.signature);
    } catch (e) {
      throw new ApkVerifyError(
        VerifyFailure.BadSignature,
        `${file}: cannot use key ${keysDir}/${s.keyName}: ${(e as Error).message}`,
        names,
      );
    }
    if (ok) return { keyName: s.keyName, type: s.type };
  }
  throw new ApkVerifyError(
    VerifyFailure.BadSignature,
    `${file}: the ${usable[0]!.type} signature by ${usable[0]!.keyName} does not match ` +
      `(the file was altered or damaged)`,
    names,
  );
}

/** An index's content, read but not yet trusted. */
export interface OpenedIndex {
  readonly signatures: readonly ApkSignature[];
  /** Where the signed part starts (the bytes openssl would check). */
  readonly signedStart: number;
  readonly apkindex: string;
  readonly description?: string;
}

/** A verified index: its text and who signed it. */
export interface VerifiedIndex extends OpenedIndex, SignatureCheck {}

/**
 * Reads a signed `APKINDEX.tar.gz` without checking the signature (for
 * `mesh mirror status`, which looks at a tree it verified when it was
 * built). Throws ApkVerifyError for an unsigned, truncated or malformed file.
 */
export function openApkIndex(bytes: Uint8Array, file: string): OpenedIndex {
  const sig = readSignatures(bytes, file);
  if (sig === null || sig.signatures.length === 0) {
    throw new ApkVerifyError(
      VerifyFailure.NoSignature,
      `${file} is not signed (no .SIGN.RSA.<key> entry in its first gzip stream)`,
    );
  }
  const signedStart = sig.member.end;
  if (signedStart >= bytes.length) {
    throw new ApkVerifyError(
      VerifyFailure.Truncated,
      `${file}: truncated: nothing after the signature`,
    );
  }
  let files: TarFile[];
  try {
    const members = readGzipMembers(bytes, MAX_INDEX_BYTES, signedStart);
    files = readTar(concatBytes(members.map((m) => m.data)));
  } catch (e) {
    return asVerifyError(e, file);
  }
  const index = files.find((f) => f.name === "APKINDEX");
  if (!index) {
    throw new ApkVerifyError(VerifyFailure.Format, `${file}: no APKINDEX member in the archive`);
  }
  const description = files.find((f) => f.name === "DESCRIPTION");
  const text = new TextDecoder();
  return {
    signatures: sig.signatures,
    signedStart,
    apkindex: text.decode(index.data),
    ...(description ? { description: text.decode(description.data).trim() } : {}),
  };
}

/**
 * Verifies a signed `APKINDEX.tar.gz` as apk does and returns its text. The
 * structure is read first so a truncated download says "truncated", not
 * "bad signature".
 */
export function verifyApkIndex(
  bytes: Uint8Array,
  keys: TrustedKeys,
  file: string,
  keysDir: string,
): VerifiedIndex {
  const opened = openApkIndex(bytes, file);
  const signed = bytes.subarray(opened.signedStart);
  return { ...opened, ...checkSignature(opened.signatures, signed, keys, file, keysDir) };
}
