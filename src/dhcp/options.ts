/**
 * @module
 * The DHCP option list codec: pad/end, RFC 3396 concatenation of repeated
 * options on decode and splitting of values longer than 255 bytes on encode.
 * Options are kept as raw bytes in a Map (code → value); typed access lives
 * in option_values.ts. Pure.
 */
import { DecodeError } from "../errors.ts";
import type { ByteWriter } from "../wire/mod.ts";
import { Opt } from "./constants.ts";

/** Option code → value bytes, in the order the options first appeared. */
export type DhcpOptions = ReadonlyMap<number, Uint8Array>;

/** Chunks of each option as found, plus the offset of its first occurrence (for errors). */
export interface OptionChunks {
  readonly chunks: Map<number, Uint8Array[]>;
  readonly firstOffset: Map<number, number>;
}

/** An empty accumulator for {@link readOptionArea}. */
export function newOptionChunks(): OptionChunks {
  return { chunks: new Map(), firstOffset: new Map() };
}

/**
 * Reads the options in `bytes[start, end)` into `acc`. Stops at End (255);
 * a missing End is tolerated because several PXE ROMs omit it. Returns true
 * when an End option was seen. `area` names the region in errors
 * ("options", "file", "sname").
 */
export function readOptionArea(
  bytes: Uint8Array,
  start: number,
  end: number,
  area: string,
  acc: OptionChunks,
): boolean {
  let i = start;
  while (i < end) {
    const code = bytes[i]!;
    if (code === Opt.Pad) {
      i++;
      continue;
    }
    if (code === Opt.End) return true;
    if (i + 1 >= end) {
      throw new DecodeError(`${area} option ${code} length`, i + 1, `missing length byte`);
    }
    const len = bytes[i + 1]!;
    if (i + 2 + len > end) {
      throw new DecodeError(
        `${area} option ${code}`,
        i,
        `length ${len} runs past the end of the ${area} area (${end - i - 2} bytes left)`,
      );
    }
    const value = bytes.subarray(i + 2, i + 2 + len);
    const list = acc.chunks.get(code);
    if (list === undefined) {
      acc.chunks.set(code, [value]);
      acc.firstOffset.set(code, i);
    } else {
      list.push(value);
    }
    i += 2 + len;
  }
  return false;
}

/**
 * Joins repeated options (RFC 3396: concatenate in order of appearance) and
 * copies every value, so a packet never aliases the receive buffer. With
 * `copy` false, single-chunk values stay views of the input (for callers
 * whose buffer is never reused).
 */
export function concatOptions(acc: OptionChunks, copy = true): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const [code, list] of acc.chunks) {
    if (list.length === 1) {
      out.set(code, copy ? list[0]!.slice() : list[0]!);
      continue;
    }
    let total = 0;
    for (const c of list) total += c.length;
    const joined = new Uint8Array(total);
    let at = 0;
    for (const c of list) {
      joined.set(c, at);
      at += c.length;
    }
    out.set(code, joined);
  }
  return out;
}

/** Decodes a standalone option list (no header, e.g. a test fixture). */
export function decodeOptions(bytes: Uint8Array): Map<number, Uint8Array> {
  const acc = newOptionChunks();
  readOptionArea(bytes, 0, bytes.length, "options", acc);
  return concatOptions(acc);
}

/** Encoded size of one option, counting the RFC 3396 split into 255-byte chunks. */
export function encodedOptionLength(value: Uint8Array): number {
  const chunks = Math.max(1, Math.ceil(value.length / 255));
  return value.length + 2 * chunks;
}

/** Encoded size of an option list including the End byte. */
export function encodedOptionsLength(opts: Iterable<readonly [number, Uint8Array]>): number {
  let n = 1;
  for (const [, v] of opts) n += encodedOptionLength(v);
  return n;
}

/**
 * Writes one option, splitting values longer than 255 bytes into consecutive
 * options with the same code (RFC 3396 §5). A zero-length value is written as
 * code + length 0.
 */
export function writeOption(w: ByteWriter, code: number, value: Uint8Array): void {
  if (code === Opt.Pad || code === Opt.End || code < 0 || code > 255) {
    throw new RangeError(`option code ${code} cannot carry a value`);
  }
  if (value.length === 0) {
    w.u8(code).u8(0);
    return;
  }
  for (let at = 0; at < value.length; at += 255) {
    const part = value.subarray(at, Math.min(at + 255, value.length));
    w.u8(code).u8(part.length).bytes(part);
  }
}

/** Writes every option in map order followed by End. */
export function encodeOptions(w: ByteWriter, opts: Iterable<readonly [number, Uint8Array]>): void {
  for (const [code, value] of opts) writeOption(w, code, value);
  w.u8(Opt.End);
}
