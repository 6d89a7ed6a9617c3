/**
 * @module
 * Member boundaries of a concatenation of gzip streams, as apk reads an
 * `.apk` or a signed `APKINDEX.tar.gz`: apk hashes the raw compressed bytes
 * of each member (gunzip's multipart callback), so the exact byte where one
 * member ends and the next begins decides what a signature or a `C:`
 * checksum covers. Pure: bytes in, boundaries or a GzipError out.
 */
import { crc32, inflateRawSync } from "node:zlib";

/** A gzip stream that cannot be read: truncated, corrupt or not gzip at all. */
export class GzipError extends Error {
  override name = "GzipError";
  constructor(readonly offset: number, detail: string) {
    super(`${detail} (at byte ${offset})`);
  }
}

/** One member: its raw bytes are `bytes.subarray(start, end)`. */
export interface GzipMember {
  readonly start: number;
  readonly end: number;
  /** The decompressed content. */
  readonly data: Uint8Array;
}

const FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16;

/** Length of the gzip header at `at` (RFC 1952 §2.3). */
function headerLength(bytes: Uint8Array, at: number): number {
  if (bytes.length - at < 10) throw new GzipError(at, "truncated gzip header");
  if (bytes[at] !== 0x1f || bytes[at + 1] !== 0x8b) throw new GzipError(at, "not a gzip stream");
  if (bytes[at + 2] !== 8) throw new GzipError(at, "gzip method is not deflate");
  const flags = bytes[at + 3]!;
  let p = at + 10;
  if (flags & FEXTRA) {
    if (p + 2 > bytes.length) throw new GzipError(at, "truncated gzip header");
    p += 2 + (bytes[p]! | (bytes[p + 1]! << 8));
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    while (p < bytes.length && bytes[p] !== 0) p++;
    p++;
  }
  if (flags & FHCRC) p += 2;
  if (p > bytes.length) throw new GzipError(at, "truncated gzip header");
  return p - at;
}

/**
 * Reads the member that starts at `at`: inflates it and finds its end (the
 * deflate stream's last byte plus the 8-byte CRC32/ISIZE trailer, both
 * checked). `maxOutput` bounds the inflated size (a signature or control
 * member is small; a hostile one must not fill memory).
 */
export function readGzipMember(bytes: Uint8Array, at: number, maxOutput?: number): GzipMember {
  const body = at + headerLength(bytes, at);
  let out: Uint8Array;
  let used: number;
  try {
    const r = inflateRawSync(bytes.subarray(body), {
      info: true,
      ...(maxOutput !== undefined ? { maxOutputLength: maxOutput } : {}),
    }) as unknown as { buffer: Uint8Array; engine: { bytesWritten: number } };
    out = new Uint8Array(r.buffer.buffer, r.buffer.byteOffset, r.buffer.byteLength);
    used = r.engine.bytesWritten;
  } catch (e) {
    const msg = (e as Error).message;
    if (/unexpected end/i.test(msg)) throw new GzipError(at, "truncated gzip stream");
    if ((e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE" || /larger than/i.test(msg)) {
      throw new GzipError(at, `gzip member inflates to more than ${maxOutput} bytes`);
    }
    throw new GzipError(at, `corrupt gzip stream: ${msg}`);
  }
  const trailer = body + used;
  if (trailer + 8 > bytes.length) throw new GzipError(at, "truncated gzip trailer");
  const view = new DataView(bytes.buffer, bytes.byteOffset + trailer, 8);
  if (view.getUint32(0, true) !== (crc32(out) >>> 0)) {
    throw new GzipError(at, "gzip CRC32 mismatch");
  }
  if (view.getUint32(4, true) !== (out.length >>> 0)) {
    throw new GzipError(at, "gzip length mismatch");
  }
  return { start: at, end: trailer + 8, data: out };
}

/** Every member of `bytes` from `from` on, in order (at least one). */
export function readGzipMembers(bytes: Uint8Array, maxOutput?: number, from = 0): GzipMember[] {
  const members: GzipMember[] = [];
  let at = from;
  while (at < bytes.length) {
    const m = readGzipMember(bytes, at, maxOutput);
    members.push(m);
    at = m.end;
  }
  if (members.length === 0) throw new GzipError(from, "no gzip stream");
  return members;
}
