/**
 * @module
 * Deterministic ustar writer and gzip wrapper. Pure apart from the compressor:
 * the same entries always give the same bytes (fixed mtime, no host user
 * names, sorted input kept in the given order, gzip header mtime 0 and OS
 * byte "Unix").
 */
import { gzipSync } from "node:zlib";

/** Kind of a tar entry. */
export const EntryType = {
  File: "file",
  Directory: "dir",
  Symlink: "symlink",
} as const;
export type EntryType = typeof EntryType[keyof typeof EntryType];

/** One member of an archive. `path` is relative (no leading "/", no trailing "/"). */
export interface TarEntry {
  readonly path: string;
  readonly type: EntryType;
  /** Permission bits (0o7777 range). Symlinks are written as 0o777. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** Regular files only. */
  readonly content?: Uint8Array;
  /** Symlinks only: the link target. */
  readonly linkname?: string;
}

/**
 * Modification time of every entry: 2000-01-01T00:00:00Z. Fixed so output is
 * reproducible; not 0 because some tar implementations warn about 1970 stamps.
 */
export const TAR_MTIME = 946684800;

const BLOCK = 512;
const MAX_OCTAL_7 = 0o7777777;
const encoder = new TextEncoder();

/**
 * Splits a path (UTF-8 bytes) into ustar prefix (≤155) and name (≤100), or
 * null when it cannot be represented.
 */
export function splitUstarPath(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | null {
  if (path.length <= 100) return { prefix: new Uint8Array(0), name: path };
  // The split must happen at a "/" (0x2f never occurs inside a UTF-8 sequence).
  for (let i = Math.min(155, path.length - 2); i > 0; i--) {
    if (path[i] !== 0x2f) continue;
    if (path.length - i - 1 > 100) return null;
    return { prefix: path.subarray(0, i), name: path.subarray(i + 1) };
  }
  return null;
}

/** Why an entry cannot be written, or null when it can. */
export function entryProblem(e: TarEntry): string | null {
  const full = encoder.encode(e.type === EntryType.Directory ? `${e.path}/` : e.path);
  if (e.path === "" || e.path.startsWith("/")) return "path must be relative and non-empty";
  if (splitUstarPath(full) === null) return `path too long for ustar (${full.length} bytes)`;
  if (e.linkname !== undefined && encoder.encode(e.linkname).length > 100) {
    return "symlink target longer than 100 bytes";
  }
  if (e.uid > MAX_OCTAL_7 || e.gid > MAX_OCTAL_7 || e.uid < 0 || e.gid < 0) {
    return "uid/gid out of ustar range";
  }
  if (encoder.encode(e.uname).length > 31 || encoder.encode(e.gname).length > 31) {
    return "user or group name longer than 31 bytes";
  }
  return null;
}

function putString(h: Uint8Array, offset: number, length: number, bytes: Uint8Array): void {
  h.set(bytes.subarray(0, length), offset);
}

/** Writes `value` as zero-padded octal of `length - 1` digits plus NUL. */
function putOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, "0");
  if (text.length > length - 1) {
    throw new RangeError(`value ${value} does not fit ${length - 1} octal digits`);
  }
  for (let i = 0; i < text.length; i++) h[offset + i] = text.charCodeAt(i);
  h[offset + length - 1] = 0;
}

function header(e: TarEntry, size: number): Uint8Array {
  const problem = entryProblem(e);
  if (problem !== null) throw new RangeError(`cannot write ${e.path} to tar: ${problem}`);
  const h = new Uint8Array(BLOCK);
  const full = encoder.encode(e.type === EntryType.Directory ? `${e.path}/` : e.path);
  const { prefix, name } = splitUstarPath(full)!;
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, e.type === EntryType.Symlink ? 0o777 : e.mode & 0o7777);
  putOctal(h, 108, 8, e.uid);
  putOctal(h, 116, 8, e.gid);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, TAR_MTIME);
  h.fill(0x20, 148, 156); // checksum is computed with this field as spaces
  h[156] = e.type === EntryType.File ? 0x30 : e.type === EntryType.Directory ? 0x35 : 0x32;
  if (e.linkname !== undefined) putString(h, 157, 100, encoder.encode(e.linkname));
  putString(h, 257, 6, encoder.encode("ustar\0"));
  putString(h, 263, 2, encoder.encode("00"));
  putString(h, 265, 32, encoder.encode(e.uname));
  putString(h, 297, 32, encoder.encode(e.gname));
  putOctal(h, 329, 8, 0);
  putOctal(h, 337, 8, 0);
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  // Six octal digits, NUL, space: the traditional layout every tar accepts.
  const text = sum.toString(8).padStart(6, "0");
  for (let i = 0; i < 6; i++) h[148 + i] = text.charCodeAt(i);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** Builds an uncompressed ustar archive. Throws RangeError for unrepresentable entries. */
export function writeTar(entries: readonly TarEntry[]): Uint8Array {
  let total = 2 * BLOCK;
  for (const e of entries) {
    const size = e.type === EntryType.File ? e.content?.length ?? 0 : 0;
    total += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    const content = e.type === EntryType.File ? e.content ?? new Uint8Array(0) : new Uint8Array(0);
    out.set(header(e, content.length), at);
    at += BLOCK;
    out.set(content, at);
    at += Math.ceil(content.length / BLOCK) * BLOCK;
  }
  return out; // the two zero end blocks are already zero
}

/** gzip with a reproducible header (mtime 0, no name, OS = 3 "Unix"). */
export function gzipDeterministic(data: Uint8Array): Uint8Array {
  const gz = new Uint8Array(gzipSync(data, { level: 9 }));
  // zlib already writes mtime 0 without a name; pin the bytes anyway so a
  // runtime that fills them differently cannot change the output.
  gz.fill(0, 4, 8);
  gz[9] = 3;
  return gz;
}

/** writeTar then gzipDeterministic. */
export function writeTarGz(entries: readonly TarEntry[]): Uint8Array {
  return gzipDeterministic(writeTar(entries));
}
