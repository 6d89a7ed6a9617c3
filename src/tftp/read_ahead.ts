/**
 * @module
 * Streaming reads of a big file for one transfer, without buffering it whole.
 * Two chunk buffers, the newer one ahead of the client and the older one
 * still holding the last window (a retransmit after a timeout restarts at the
 * last acknowledged block). Blocks are copied out synchronously, so a
 * transfer answers an ACK with the next DATA without awaiting anything.
 *
 * A chunk is read synchronously when the reader reaches it: from the page
 * cache (where the kernel's own sequential read-ahead puts the next pages)
 * that is a copy of 128 KiB, tens of microseconds every ~90 blocks. An async
 * prefetch looked cheaper but its completion waits for the event loop, which
 * the datagram loop holds for up to a couple of milliseconds under load: the
 * transfer then stalled on its own read-ahead.
 */

/** Bytes per chunk: 89 blocks of 1468, 256 of 512. */
export const CHUNK = 128 * 1024;

interface Chunk {
  start: number;
  len: number;
  data: Uint8Array;
}

/** Synchronous seek and read: Deno.FsFile fits. */
export interface SyncSeekRead {
  seekSync(offset: number, whence: Deno.SeekMode): number;
  readSync(p: Uint8Array): number | null;
}

export class ReadAhead {
  readonly #file: SyncSeekRead;
  readonly #size: number;
  readonly #chunks: [Chunk, Chunk];
  #pos = 0;

  constructor(file: SyncSeekRead, size: number, chunk = CHUNK) {
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
   * and returns the count. Throws when the file shrank or cannot be read.
   */
  readInto(offset: number, dest: Uint8Array): number {
    const want = Math.max(0, Math.min(dest.length, this.#size - offset));
    let done = 0;
    while (done < want) {
      const at = offset + done;
      const c = this.#find(at) ?? this.#load(at, want - done);
      const n = Math.min(want - done, c.start + c.len - at);
      dest.set(c.data.subarray(at - c.start, at - c.start + n), done);
      done += n;
    }
    return want;
  }

  /** Reads `length` bytes at `offset` into a new array (fewer only at the end). */
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      const out = new Uint8Array(Math.max(0, Math.min(length, this.#size - offset)));
      this.readInto(offset, out);
      return Promise.resolve(out);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Reads the chunk at `at` (at least `min` bytes) into the older buffer. */
  #load(at: number, min: number): Chunk {
    const [a, b] = this.#chunks;
    const victim = a.len === 0 ? a : b.len === 0 ? b : a.start <= b.start ? a : b;
    victim.len = 0;
    const want = Math.min(Math.max(victim.data.length, min), this.#size - at);
    if (victim.data.length < want) victim.data = new Uint8Array(want);
    if (this.#pos !== at) {
      this.#file.seekSync(at, Deno.SeekMode.Start);
      this.#pos = at;
    }
    let got = 0;
    while (got < want) {
      const n = this.#file.readSync(victim.data.subarray(got, want));
      if (n === null || n === 0) break;
      got += n;
    }
    this.#pos += got;
    if (got < want) throw new Error("file shrank during transfer");
    victim.start = at;
    victim.len = got;
    return victim;
  }
}
