/**
 * @module
 * netascii (RFC 764 as used by RFC 1350): LF becomes CR LF and CR becomes
 * CR NUL, byte by byte, like tftp-hpa. Pure helpers plus a reader that
 * converts on the fly over any positioned byte source.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Number of bytes `src` occupies once converted. */
export function netasciiSize(src: Uint8Array): number {
  let n = src.length;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === LF || b === CR) n++;
  }
  return n;
}

/** Converts `src` into `dst` (which must hold netasciiSize(src) bytes); returns bytes written. */
export function toNetascii(src: Uint8Array, dst: Uint8Array, at = 0): number {
  let o = at;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b === LF) {
      dst[o++] = CR;
      dst[o++] = LF;
    } else if (b === CR) {
      dst[o++] = CR;
      dst[o++] = 0;
    } else {
      dst[o++] = b;
    }
  }
  return o - at;
}

/** Reads `length` bytes at `offset`; the view is valid until the next call. */
export type PositionedRead = (offset: number, length: number) => Promise<Uint8Array>;

const CHUNK = 64 * 1024;

/**
 * Converted view of a source, read forward. TFTP only moves forward (a
 * window restarts at most at the last acknowledged block), so reads at an
 * offset below the buffered start restart the conversion from the beginning.
 */
export class NetasciiReader {
  #srcPos = 0;
  #bufStart = 0; // converted offset of #buf[#head]
  #buf = new Uint8Array(2 * CHUNK + 2);
  #head = 0;
  #tail = 0;
  #eof = false;

  constructor(readonly read: PositionedRead, readonly sourceSize: number) {}

  async at(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.#bufStart) {
      this.#srcPos = 0;
      this.#bufStart = 0;
      this.#head = this.#tail = 0;
      this.#eof = false;
    }
    // Drop what lies before `offset`.
    const skip = Math.min(offset - this.#bufStart, this.#tail - this.#head);
    this.#head += skip;
    this.#bufStart += skip;
    while (this.#bufStart < offset || this.#tail - this.#head < length) {
      if (this.#eof) break;
      if (this.#bufStart < offset) {
        // Everything buffered was skipped; discard and keep converting.
        this.#bufStart += this.#tail - this.#head;
        this.#head = this.#tail = 0;
      }
      await this.#fill();
      const drop = Math.min(offset - this.#bufStart, this.#tail - this.#head);
      this.#head += drop;
      this.#bufStart += drop;
    }
    const n = Math.min(length, this.#tail - this.#head);
    return this.#buf.subarray(this.#head, this.#head + n);
  }

  async #fill(): Promise<void> {
    const want = Math.min(CHUNK, this.sourceSize - this.#srcPos);
    if (want <= 0) {
      this.#eof = true;
      return;
    }
    const chunk = await this.read(this.#srcPos, want);
    if (chunk.length === 0) {
      this.#eof = true;
      return;
    }
    this.#srcPos += chunk.length;
    const pending = this.#tail - this.#head;
    const need = pending + 2 * chunk.length;
    if (this.#head > 0) {
      this.#buf.copyWithin(0, this.#head, this.#tail);
      this.#head = 0;
      this.#tail = pending;
    }
    if (need > this.#buf.length) {
      const bigger = new Uint8Array(need * 2);
      bigger.set(this.#buf.subarray(0, pending));
      this.#buf = bigger;
    }
    this.#tail += toNetascii(chunk, this.#buf, this.#tail);
  }
}
