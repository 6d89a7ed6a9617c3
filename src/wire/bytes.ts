/**
 * @module
 * Cursor-based byte reading and writing for the wire codecs. Pure. Every read
 * past the end throws DecodeError naming the field and offset.
 */
import { DecodeError } from "../errors.ts";

/** Reads big-endian fields from a byte array, tracking the offset. */
export class ByteReader {
  #view: DataView;
  offset: number;
  constructor(readonly bytes: Uint8Array, offset = 0) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  #need(n: number, field: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new DecodeError(field, this.offset, `need ${n} bytes, ${this.remaining} left`);
    }
  }
  u8(field: string): number {
    this.#need(1, field);
    return this.#view.getUint8(this.offset++);
  }
  u16(field: string): number {
    this.#need(2, field);
    const v = this.#view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }
  u32(field: string): number {
    this.#need(4, field);
    const v = this.#view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }
  /** A view (not a copy) of the next n bytes. */
  bytesView(n: number, field: string): Uint8Array {
    this.#need(n, field);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
}

/** Appends big-endian fields to a growing buffer. */
export class ByteWriter {
  // Plain indexed stores, no DataView: a writer per DHCP reply is on the hot path.
  #buf: Uint8Array;
  length = 0;
  /** `initial`: a size to allocate, or a buffer to write into (replaced if it fills up). */
  constructor(initial: number | Uint8Array = 512) {
    this.#buf = typeof initial === "number" ? new Uint8Array(initial) : initial;
  }
  #grow(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
  }
  u8(v: number): this {
    this.#grow(1);
    this.#buf[this.length++] = v;
    return this;
  }
  u16(v: number): this {
    this.#grow(2);
    const b = this.#buf;
    b[this.length] = v >>> 8;
    b[this.length + 1] = v;
    this.length += 2;
    return this;
  }
  u32(v: number): this {
    this.#grow(4);
    const b = this.#buf;
    const at = this.length;
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
    this.length += 4;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.#grow(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
    return this;
  }
  /** Zero bytes. */
  zeros(n: number): this {
    this.#grow(n);
    this.#buf.fill(0, this.length, this.length + n);
    this.length += n;
    return this;
  }
  /** The written bytes (a copy). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
  /**
   * The written bytes without a copy (a view of the buffer). For a writer
   * sized up front and dropped afterwards; further writes would show through.
   */
  take(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

/**
 * The parts one after another in one array. A single part is returned as
 * it is (no copy): callers that keep the result must not mutate the part.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
