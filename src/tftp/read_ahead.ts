/**
 * @module
 * Streaming reads of a big file for one transfer, without buffering it whole.
 * Two chunk buffers: blocks are copied out of them synchronously (so the
 * transfer can answer an ACK with the next DATA without awaiting anything),
 * and once the reader passes the middle of the newer chunk, the next chunk is
 * read into the older buffer in the background. Only a miss (a retransmit
 * from far back, or a disk slower than the link) waits for a read.
 */

/** Bytes per chunk: 89 blocks of 1468, 256 of 512. */
export const CHUNK = 128 * 1024;

interface Chunk {
  start: number;
  len: number;
  data: Uint8Array;
}

/** A source of positioned reads: Deno.FsFile fits. */
export interface SeekRead {
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  read(p: Uint8Array): Promise<number | null>;
}

export class ReadAhead {
  readonly #file: SeekRead;
  readonly #size: number;
  readonly #chunks: [Chunk, Chunk];
  #pending: Promise<void> | null = null;
  #error: Error | null = null;
  #pos = 0;

  constructor(file: SeekRead, size: number, chunk = CHUNK) {
    this.#file = file;
    this.#size = size;
    const first = Math.min(chunk, Math.max(size, 1));
    this.#chunks = [
      { start: 0, len: 0, data: new Uint8Array(first) },
      { start: 0, len: 0, data: new Uint8Array(first) },
    ];
  }

  #find(at: number): Chunk | null {
    for (const c of this.#chunks) if (at >= c.start && at < c.start + c.len) return c;
    return null;
  }

  /**
   * Copies bytes at `offset` into `dest` (fewer only at the end of the file)
   * and returns the count, or null when they are not buffered yet: then
   * `read` waits for them.
   */
  readInto(offset: number, dest: Uint8Array): number | null {
    const want = Math.max(0, Math.min(dest.length, this.#size - offset));
    let done = 0;
    while (done < want) {
      const at = offset + done;
      const c = this.#find(at);
      if (!c) {
        if (!this.#pending && !this.#error) this.#load(at, want - done);
        return null;
      }
      const n = Math.min(want - done, c.start + c.len - at);
      dest.set(c.data.subarray(at - c.start, at - c.start + n), done);
      done += n;
    }
    this.#prefetch(offset + want);
    return want;
  }

  /** Reads `length` bytes at `offset` (fewer only at the end), waiting for the disk if needed. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.#size - offset)));
    for (let tries = 0; tries < 8; tries++) {
      if (this.#pending) await this.#pending;
      if (this.#error) throw this.#error;
      if (this.readInto(offset, out) !== null) return out;
      if (!this.#pending) this.#load(offset, out.length);
    }
    throw new Error("read-ahead made no progress");
  }

  /** Starts the next chunk once the reader is past the middle of the newest one. */
  #prefetch(at: number): void {
    if (this.#pending || this.#error) return;
    const [a, b] = this.#chunks;
    const newest = a.start >= b.start ? a : b;
    const end = newest.start + newest.len;
    if (newest.len === 0 || end >= this.#size) return;
    if (at < newest.start + newest.len / 2) return;
    this.#load(end, 0);
  }

  /** Reads a chunk at `at` (at least `min` bytes) into the buffer not holding `at`'s neighbours. */
  #load(at: number, min: number): void {
    const [a, b] = this.#chunks;
    // Evict the older chunk: windows only move forward, except for a retransmit.
    const victim = a.len === 0 ? a : b.len === 0 ? b : a.start <= b.start ? a : b;
    victim.len = 0;
    const want = Math.min(Math.max(victim.data.length, min), this.#size - at);
    if (victim.data.length < want) victim.data = new Uint8Array(want);
    this.#pending = (async () => {
      try {
        if (this.#pos !== at) {
          await this.#file.seek(at, Deno.SeekMode.Start);
          this.#pos = at;
        }
        let got = 0;
        while (got < want) {
          const n = await this.#file.read(victim.data.subarray(got, want));
          if (n === null || n === 0) break;
          got += n;
        }
        this.#pos += got;
        if (got < want) throw new Error("file shrank during transfer");
        victim.start = at;
        victim.len = got;
      } catch (e) {
        this.#error = e instanceof Error ? e : new Error(String(e));
      } finally {
        this.#pending = null;
      }
    })();
  }
}
