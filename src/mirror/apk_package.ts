/**
 * @module
 * The identity of a v2 `.apk`, as apk checks a package fetched from an
 * indexed repository (APK_SIGN_VERIFY_IDENTITY in apk-tools): the index's
 * `C:` is `Q1` + base64(SHA-1) of the raw bytes of the control gzip stream
 * (the one holding `.PKGINFO`; after the signature stream when the package
 * is signed), and `.PKGINFO`'s `datahash` is the SHA-256 of the raw bytes of
 * everything after it (the data stream). The index is signed, so a package
 * whose control stream matches `C:` and whose data matches `datahash` is the
 * one Alpine built; its own signature adds nothing and is not required. (An
 * old package without `datahash` has its `C:` over control AND data: apk
 * keeps hashing to the end then; the I/O side does the same.)
 * Pure: the caller hands in the first bytes and hashes the rest itself, so a
 * 300 MiB package never sits in memory.
 */
import { createHash } from "node:crypto";
import { GzipError, readGzipMember } from "./gzip_members.ts";
import { ApkVerifyError, asVerifyError, VerifyFailure } from "./apk_signature.ts";
import { readTar, type TarFile } from "./tar_read.ts";

/** Control streams are small (`.PKGINFO` and scripts); bound the inflate. */
const MAX_CONTROL_STREAM = 16 << 20;

/** What the head of a package says about it. */
export interface PackageHead {
  /** `Q1…` (SHA-1) of the control stream, as an index's `C:` line spells it. */
  readonly checksum: string;
  /** `Q2…` (SHA-256) of the control stream, for indexes that use it. */
  readonly checksum256: string;
  /** Byte offsets where the control stream and the data stream start. */
  readonly controlStart: number;
  readonly dataStart: number;
  /** `.PKGINFO` as key → values (a key such as `depend` repeats). */
  readonly pkginfo: ReadonlyMap<string, readonly string[]>;
  /** Lower-case hex SHA-256 the data stream must have, when `.PKGINFO` gives one. */
  readonly datahash?: string;
}

/** Thrown when `head` ends inside the control stream: read more and try again. */
export class NeedMoreBytes extends Error {
  override name = "NeedMoreBytes";
}

function parsePkginfo(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf(" = ");
    if (at < 0) continue;
    const key = line.slice(0, at);
    const list = out.get(key) ?? [];
    list.push(line.slice(at + 3));
    out.set(key, list);
  }
  return out;
}

/**
 * Reads the signature (if any) and control streams from the first bytes of
 * a package. `complete` says `head` is the whole file: then running out of
 * bytes is truncation, otherwise it throws NeedMoreBytes.
 */
export function readPackageHead(head: Uint8Array, file: string, complete: boolean): PackageHead {
  try {
    let control = readGzipMember(head, 0, MAX_CONTROL_STREAM);
    let files: TarFile[] = readTar(control.data);
    if (files.length > 0 && files.every((f) => f.name.startsWith(".SIGN."))) {
      control = readGzipMember(head, control.end, MAX_CONTROL_STREAM);
      files = readTar(control.data);
    }
    const info = files.find((f) => f.name === ".PKGINFO");
    if (!info) {
      throw new ApkVerifyError(VerifyFailure.Format, `${file}: no .PKGINFO in the control stream`);
    }
    const pkginfo = parsePkginfo(new TextDecoder().decode(info.data));
    const raw = head.subarray(control.start, control.end);
    const datahash = pkginfo.get("datahash")?.[0]?.toLowerCase();
    return {
      checksum: "Q1" + createHash("sha1").update(raw).digest("base64"),
      checksum256: "Q2" + createHash("sha256").update(raw).digest("base64"),
      controlStart: control.start,
      dataStart: control.end,
      pkginfo,
      ...(datahash !== undefined ? { datahash } : {}),
    };
  } catch (e) {
    if (!complete && e instanceof GzipError && /truncated/.test(e.message)) {
      throw new NeedMoreBytes(e.message);
    }
    return asVerifyError(e, file);
  }
}

/** Throws unless `head`'s control stream is the one the index's `C:` names. */
export function checkIdentity(head: PackageHead, expected: string, file: string): void {
  const actual = expected.startsWith("Q2") ? head.checksum256 : head.checksum;
  if (actual !== expected) {
    throw new ApkVerifyError(
      VerifyFailure.Checksum,
      `${file}: control checksum ${actual} does not match the index's C:${expected}`,
    );
  }
}

/** Throws unless the data stream's SHA-256 (hex) is the `datahash` of `.PKGINFO`. */
export function checkDataHash(head: PackageHead, sha256hex: string, file: string): void {
  if (head.datahash !== undefined && head.datahash !== sha256hex) {
    throw new ApkVerifyError(
      VerifyFailure.Checksum,
      `${file}: data stream SHA-256 ${sha256hex} does not match .PKGINFO datahash ${head.datahash}`,
    );
  }
}
