/**
 * @module
 * Checks a package file on disk against its index entry (size, `C:`, and
 * `.PKGINFO`'s `datahash`) without holding it in memory: only the head up
 * to the end of the control stream is read whole, the data stream is hashed
 * in chunks. Also: trusted keys from `/host0/keys/apk`, and file hashes for
 * the netboot checksums.
 */
import { createHash } from "node:crypto";
import { checkDataHash, checkIdentity, NeedMoreBytes, readPackageHead } from "./apk_package.ts";
import { ApkVerifyError, type TrustedKeys, VerifyFailure } from "./apk_signature.ts";

const CHUNK = 1 << 20;

async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<Uint8Array> {
  const buf = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Feeds `[from, end)` of the file to `hashes` in 1 MiB chunks. */
async function hashRange(
  file: Deno.FsFile,
  from: number,
  end: number,
  hashes: ReturnType<typeof createHash>[],
): Promise<void> {
  for (let at = from; at < end; at += CHUNK) {
    const chunk = await readAt(file, at, Math.min(CHUNK, end - at));
    for (const h of hashes) h.update(chunk);
  }
}

/** What the index says a package must be. */
export interface Expected {
  readonly checksum: string;
  readonly size: number;
}

/** Throws ApkVerifyError (kind size or checksum) unless `path` is the package the index names. */
export async function verifyPackageFile(
  path: string,
  want: Expected,
  label: string,
): Promise<void> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    if (size !== want.size) {
      throw new ApkVerifyError(
        VerifyFailure.Size,
        `${label}: ${size} bytes, but the index says S:${want.size}`,
      );
    }
    let headLen = Math.min(size, 64 << 10);
    let head;
    for (;;) {
      const bytes = await readAt(file, 0, headLen);
      try {
        head = readPackageHead(bytes, label, headLen === size);
        break;
      } catch (e) {
        if (!(e instanceof NeedMoreBytes)) throw e;
        headLen = Math.min(size, headLen * 4);
      }
    }
    if (head.datahash !== undefined) {
      checkIdentity(head, want.checksum, label);
      const h = createHash("sha256");
      await hashRange(file, head.dataStart, size, [h]);
      checkDataHash(head, h.digest("hex"), label);
    } else {
      // No datahash (a v2.0 package): apk's identity then runs to the end of the file.
      const h = createHash(want.checksum.startsWith("Q2") ? "sha256" : "sha1");
      await hashRange(file, head.controlStart, size, [h]);
      const actual = want.checksum.slice(0, 2) + h.digest("base64");
      if (actual !== want.checksum) {
        throw new ApkVerifyError(
          VerifyFailure.Checksum,
          `${label}: checksum ${actual} does not match the index's C:${want.checksum}`,
        );
      }
    }
  } finally {
    file.close();
  }
}

/** Lower-case hex digest of a whole file. */
export async function hashFile(path: string, alg: "sha256" | "sha512"): Promise<string> {
  const file = await Deno.open(path, { read: true });
  try {
    const h = createHash(alg);
    await hashRange(file, 0, (await file.stat()).size, [h]);
    return h.digest("hex");
  } finally {
    file.close();
  }
}

/**
 * The public keys in `dir` by file name (`<keyname>.rsa.pub`, as apk looks
 * them up). A missing directory is an empty trust store: the first index
 * then says which key to put there.
 */
export async function loadTrustedKeys(dir: string): Promise<TrustedKeys> {
  const keys = new Map<string, string>();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".") || e.isDirectory) continue;
      const text = await Deno.readTextFile(`${dir}/${e.name}`);
      if (text.includes("-----BEGIN PUBLIC KEY-----")) keys.set(e.name, text);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return keys;
}
