/**
 * @module
 * A nonblocking socket descriptor whose readability is awaited with `poll` on
 * a worker thread. It owns the one rule both socket classes need: closing is
 * deferred until an in-flight poll returns, so the fd number is never closed
 * (and possibly reused by another socket) while that thread still waits on it.
 */
import { C, libc } from "./_libc.ts";

/** Builds a `struct pollfd` for POLLIN on `fd`. */
export function makePollfd(fd: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, C.POLLIN, true);
  return b;
}

/** An open descriptor, its pollfd, and the deferred close. */
export class PolledFd {
  #fd: number;
  #closed = false;
  #polling = false;
  /** `struct pollfd` for POLLIN on the descriptor (for ppoll on the caller's thread too). */
  readonly pollfd: Uint8Array<ArrayBuffer>;

  constructor(fd: number) {
    this.#fd = fd;
    this.pollfd = makePollfd(fd);
  }

  /** The descriptor; -1 once released. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Waits off the main thread until readable or `timeoutMs` passes; false once closed. */
  async waitReadable(timeoutMs: number): Promise<boolean> {
    if (this.#closed) return false;
    this.#polling = true;
    try {
      return (await libc().poll(this.pollfd, 1n, timeoutMs)) > 0 && !this.#closed;
    } finally {
      this.#polling = false;
      if (this.#closed) this.#release();
    }
  }

  #release(): void {
    if (this.#fd >= 0) {
      libc().close(this.#fd);
      this.#fd = -1;
    }
  }

  /** Marks closed; the fd is released now, or when the in-flight poll returns. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#polling) this.#release();
  }
}
