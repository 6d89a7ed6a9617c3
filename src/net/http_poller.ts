/**
 * @module
 * One epoll set for the sendfile HTTP engine. `epoll_wait` runs on a worker
 * thread (nonblocking FFI), so the event loop keeps running; everything else
 * (epoll_ctl, the socket calls) is synchronous and never waits.
 *
 * Connections arm their fd one-shot for the one thing they wait for (read or
 * write) and get a promise; after it fires the fd is disarmed, so a client
 * that hangs up while the app is busy cannot make epoll spin. Wake-ups can be
 * spurious (an fd number reused after close): callers always retry the call
 * and arm again on EAGAIN.
 */
import { C, errno, libc, LibcError } from "./_libc.ts";

/** Result of a wait that did not see the fd become ready. */
export const WAIT_TIMEOUT = -1;
export const WAIT_CLOSED = -2;

const MAX_EVENTS = 256;
/** How often deadlines are checked: timeouts are this coarse. */
const SWEEP_MS = 250;

interface Waiter {
  readonly resolve: (events: number) => void;
  readonly deadline: number;
}

export class Poller {
  readonly #epfd: number;
  readonly #wakefd: number;
  readonly #events: Uint8Array<ArrayBuffer>;
  readonly #view: DataView;
  /** struct epoll_event is packed (12 bytes) on x86-64 only. */
  readonly #stride = Deno.build.arch === "x86_64" ? 12 : 16;
  readonly #dataOffset = Deno.build.arch === "x86_64" ? 4 : 8;
  readonly #ctlBuf: Uint8Array<ArrayBuffer>;
  readonly #ctlView: DataView;
  readonly #waiters = new Map<number, Waiter>();
  readonly #watchers = new Map<number, (events: number) => void>();
  /** fds added to the set for one-shot waits (closing an fd removes it from the set). */
  readonly #armed = new Set<number>();
  #stopping = false;
  #running = false;
  #onError: (e: unknown) => void = () => {};

  constructor() {
    const l = libc();
    this.#epfd = l.epoll_create1(C.EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new LibcError("epoll_create1", errno());
    this.#wakefd = l.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
    if (this.#wakefd < 0) {
      const e = errno();
      l.close(this.#epfd);
      throw new LibcError("eventfd", e);
    }
    this.#events = new Uint8Array(MAX_EVENTS * this.#stride);
    this.#view = new DataView(this.#events.buffer);
    this.#ctlBuf = new Uint8Array(16);
    this.#ctlView = new DataView(this.#ctlBuf.buffer);
    const drain = new Uint8Array(8);
    this.watch(this.#wakefd, C.EPOLLIN, () => void l.read(this.#wakefd, drain, 8n));
  }

  #ctl(op: number, fd: number, events: number): number {
    this.#ctlView.setUint32(0, events >>> 0, true);
    this.#ctlView.setUint32(this.#dataOffset, fd, true);
    this.#ctlView.setUint32(this.#dataOffset + 4, 0, true);
    return libc().epoll_ctl(this.#epfd, op, fd, this.#ctlBuf);
  }

  /** Calls `onReady` whenever `fd` is ready for `events` (level-triggered), until unwatch. */
  watch(fd: number, events: number, onReady: (events: number) => void): void {
    if (this.#ctl(C.EPOLL_CTL_ADD, fd, events) < 0) throw new LibcError("epoll_ctl(ADD)", errno());
    this.#watchers.set(fd, onReady);
  }

  unwatch(fd: number): void {
    if (this.#watchers.delete(fd)) this.#ctl(C.EPOLL_CTL_DEL, fd, 0);
  }

  /**
   * Resolves with the ready events once `fd` is ready for `events`, with
   * WAIT_TIMEOUT after `deadline` (performance.now() ms), or WAIT_CLOSED when
   * cancelled. One wait per fd at a time.
   */
  wait(fd: number, events: number, deadline: number): Promise<number> {
    const flags = events | C.EPOLLONESHOT;
    let rc = this.#armed.has(fd) ? this.#ctl(C.EPOLL_CTL_MOD, fd, flags) : -1;
    if (rc < 0) {
      rc = this.#ctl(C.EPOLL_CTL_ADD, fd, flags);
      if (rc < 0) return Promise.reject(new LibcError("epoll_ctl", errno()));
      this.#armed.add(fd);
    }
    return new Promise((resolve) => this.#waiters.set(fd, { resolve, deadline }));
  }

  /** Ends a pending wait on `fd` with WAIT_CLOSED (no-op without one). */
  cancel(fd: number): void {
    const w = this.#waiters.get(fd);
    if (w === undefined) return;
    this.#waiters.delete(fd);
    w.resolve(WAIT_CLOSED);
  }

  /** Call right before closing `fd`. */
  forget(fd: number): void {
    this.cancel(fd);
    this.#armed.delete(fd);
  }

  /** True when `fd` has a pending wait. */
  waiting(fd: number): boolean {
    return this.#waiters.has(fd);
  }

  #expire(now: number): void {
    for (const [fd, w] of this.#waiters) {
      if (w.deadline <= now) {
        this.#waiters.delete(fd);
        w.resolve(WAIT_TIMEOUT);
      }
    }
  }

  #dispatch(n: number): void {
    for (let i = 0; i < n; i++) {
      const at = i * this.#stride;
      const events = this.#view.getUint32(at, true);
      const fd = this.#view.getUint32(at + this.#dataOffset, true);
      const watcher = this.#watchers.get(fd);
      if (watcher !== undefined) {
        // one failing callback must not strand the rest of the batch (one-shot fds stay disarmed)
        try {
          watcher(events);
        } catch (e) {
          this.#onError(e);
        }
        continue;
      }
      const w = this.#waiters.get(fd);
      if (w === undefined) continue; // stale: the fd was closed (and maybe reused) meanwhile
      this.#waiters.delete(fd);
      w.resolve(events);
    }
  }

  /** Runs until stop(); then closes the epoll set. Errors of one callback never end it. */
  async run(onError: (e: unknown) => void): Promise<void> {
    this.#onError = onError;
    this.#running = true;
    const l = libc();
    let lastSweep = performance.now();
    try {
      while (!this.#stopping) {
        const n = await l.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, SWEEP_MS);
        if (n < 0) {
          const e = errno();
          // errno of a worker-thread call is not ours to read; EINTR is the only expected failure
          if (e !== C.EINTR && e !== 0) onError(new LibcError("epoll_wait", e));
          continue;
        }
        try {
          this.#dispatch(n);
        } catch (e) {
          onError(e);
        }
        const now = performance.now();
        if (now - lastSweep >= SWEEP_MS) {
          lastSweep = now;
          this.#expire(now);
        }
      }
    } finally {
      for (const fd of [...this.#waiters.keys()]) this.cancel(fd);
      l.close(this.#wakefd);
      l.close(this.#epfd);
      this.#running = false;
    }
  }

  /** Makes run() return after its current wait (wakes it at once). */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#running) {
      const one = new Uint8Array(8);
      new DataView(one.buffer).setBigUint64(0, 1n, true);
      libc().write(this.#wakefd, one, 8n);
    } else {
      libc().close(this.#wakefd);
      libc().close(this.#epfd);
    }
  }
}
