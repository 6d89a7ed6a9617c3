/**
 * @module
 * One readiness loop for many DgramSockets: a single `poll()` over every
 * registered socket (on a worker thread), and when it returns, each ready
 * socket's handler runs synchronously, then the poll is re-armed. Per-socket
 * deadlines become the poll timeout, so retransmission timers need no
 * setTimeout. Many transfers share one wake-up under load, and a lock-step
 * exchange costs one thread hop per round trip instead of an async receive
 * plus an async send.
 *
 * An eventfd in the poll set wakes the loop when the set or a deadline
 * changes from outside a handler (a new registration, a resumed one).
 */
import { getLogger } from "@logtape/logtape";
import { D, dgramErrno, dgramLibc } from "./_libc_dgram.ts";
import { LibcError } from "./_libc.ts";
import type { DgramSocket } from "./dgram_socket.ts";

const log = getLogger(["mesh", "net"]);

/** Longest single poll, so a stuck wake-up can never hide a deadline for long. */
const POLL_SLICE_MS = 1000;

export interface DgramHandler {
  /** The socket has datagrams: drain it (recvInto until -1). */
  readable(): void;
  /** The registration's deadline has passed (it is reset to Infinity first). */
  timeout(): void;
}

export interface DgramReactorOptions {
  /**
   * Microseconds to keep checking for readiness without a thread hop before
   * the loop waits on its worker thread, when at most `spinMaxSockets` are
   * registered. A lock-step peer on a fast link answers within tens of
   * microseconds; 0 disables.
   */
  readonly spinMicros?: number;
  readonly spinMaxSockets?: number;
}

/** A socket in the loop. */
export class DgramRegistration {
  #deadline = Infinity;
  #paused = false;
  #closed = false;

  constructor(
    readonly reactor: DgramReactor,
    readonly socket: DgramSocket,
    readonly handler: DgramHandler,
  ) {}

  /** When `timeout()` runs (performance.now() milliseconds); Infinity for never. */
  get deadline(): number {
    return this.#deadline;
  }
  set deadline(at: number) {
    this.#deadline = at;
    this.reactor.changed(at);
  }

  /** A paused registration is neither polled nor timed (e.g. while a file read runs). */
  get paused(): boolean {
    return this.#paused;
  }
  set paused(p: boolean) {
    if (p === this.#paused) return;
    this.#paused = p;
    this.reactor.setChanged();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Leaves the loop and closes the socket (deferred while a poll still holds its fd). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reactor.remove(this);
  }
}

/** The readiness loop. Call `close()` to stop it (open registrations are closed too). */
export class DgramReactor {
  readonly #regs = new Set<DgramRegistration>();
  readonly #efd: number;
  readonly #wakeBuf = new Uint8Array(8);
  readonly #drainBuf = new Uint8Array(8);
  readonly #spinMicros: number;
  readonly #spinMaxSockets: number;
  #polling = false;
  /** When the running poll returns at the latest (performance.now() ms). */
  #armedUntil = 0;
  #woken = false;
  #dirty = true;
  #closed = false;
  #pollBuf = new Uint8Array(8);
  #pollRegs: DgramRegistration[] = [];
  readonly #deferredClose: DgramSocket[] = [];
  /** Wake-ups of the poll thread (for measurements). */
  polls = 0;
  /** Readiness found by spinning, without a thread hop. */
  spins = 0;
  /** Settles when the loop has stopped. */
  readonly finished: Promise<void>;

  constructor(opts: DgramReactorOptions = {}) {
    this.#spinMicros = opts.spinMicros ?? 0;
    this.#spinMaxSockets = opts.spinMaxSockets ?? 2;
    const efd = dgramLibc().eventfd(0, D.EFD_NONBLOCK | D.EFD_CLOEXEC);
    if (efd < 0) throw new LibcError("eventfd", dgramErrno());
    this.#efd = efd;
    new DataView(this.#wakeBuf.buffer).setBigUint64(0, 1n, true);
    this.finished = this.#run();
  }

  /** Adds a socket; its handler runs when it is readable or its deadline passed. */
  add(socket: DgramSocket, handler: DgramHandler): DgramRegistration {
    if (this.#closed) throw new Error("reactor closed");
    const reg = new DgramRegistration(this, socket, handler);
    this.#regs.add(reg);
    this.setChanged();
    return reg;
  }

  /** Number of open registrations. */
  get size(): number {
    return this.#regs.size;
  }

  /** @internal A deadline moved: wake the poll only when it would sleep past it. */
  changed(at: number): void {
    if (this.#polling && at < this.#armedUntil) this.#wake();
  }

  /** @internal The poll set changed. */
  setChanged(): void {
    this.#dirty = true;
    if (this.#polling) this.#wake();
  }

  /** @internal */
  remove(reg: DgramRegistration): void {
    this.#regs.delete(reg);
    this.#dirty = true;
    // The worker thread may be polling this fd: closing it now could let a
    // new socket reuse the number while the old poll still reports on it.
    if (this.#polling) {
      this.#deferredClose.push(reg.socket);
      this.#wake();
    } else reg.socket.close();
  }

  #wake(): void {
    if (this.#woken) return;
    this.#woken = true;
    dgramLibc().write(this.#efd, this.#wakeBuf, 8n);
  }

  #rebuild(): void {
    this.#pollRegs = [];
    for (const r of this.#regs) if (!r.paused) this.#pollRegs.push(r);
    const n = this.#pollRegs.length + 1;
    if (this.#pollBuf.length < n * 8 || this.#pollBuf.length > n * 32) {
      this.#pollBuf = new Uint8Array(n * 8 * 2);
    }
    const v = new DataView(this.#pollBuf.buffer);
    v.setInt32(0, this.#efd, true);
    v.setInt16(4, D.POLLIN, true);
    for (let i = 0; i < this.#pollRegs.length; i++) {
      v.setInt32((i + 1) * 8, this.#pollRegs[i]!.socket.fd, true);
      v.setInt16((i + 1) * 8 + 4, D.POLLIN, true);
    }
    this.#dirty = false;
  }

  #earliest(): number {
    let at = Infinity;
    for (const r of this.#pollRegs) if (r.deadline < at) at = r.deadline;
    return at;
  }

  /** Runs the handlers of ready sockets and passed deadlines. */
  #dispatch(count: number): void {
    const v = new DataView(this.#pollBuf.buffer);
    if (count > 0) {
      if (v.getInt16(6, true) !== 0) {
        dgramLibc().read(this.#efd, this.#drainBuf, 8n);
        v.setInt16(6, 0, true);
      }
      const regs = this.#pollRegs;
      for (let i = 0; i < regs.length; i++) {
        const off = (i + 1) * 8 + 6;
        if (v.getInt16(off, true) === 0) continue;
        v.setInt16(off, 0, true);
        const r = regs[i]!;
        if (r.closed || r.paused) continue;
        try {
          r.handler.readable();
        } catch (e) {
          log.error("datagram handler failed", { error: String(e) });
          r.close();
        }
      }
    }
    const now = performance.now();
    for (const r of this.#pollRegs) {
      if (r.closed || r.paused || r.deadline > now) continue;
      r.deadline = Infinity;
      try {
        r.handler.timeout();
      } catch (e) {
        log.error("datagram timer failed", { error: String(e) });
        r.close();
      }
    }
  }

  /** Checks readiness without waiting, for up to spinMicros. */
  #spin(): number {
    const l = dgramLibc();
    const n = BigInt(this.#pollRegs.length + 1);
    const until = performance.now() + this.#spinMicros / 1000;
    do {
      const rc = l.poll_now(this.#pollBuf, n, 0);
      if (rc !== 0) return rc;
    } while (performance.now() < until);
    return 0;
  }

  async #run(): Promise<void> {
    const l = dgramLibc();
    // Let the constructor's caller register its sockets before the first poll.
    await Promise.resolve();
    while (!this.#closed) {
      if (this.#dirty) this.#rebuild();
      const n = this.#pollRegs.length + 1;
      const now = performance.now();
      const earliest = this.#earliest();
      let rc = 0;
      if (earliest > now && this.#spinMicros > 0 && n - 1 > 0 && n - 1 <= this.#spinMaxSockets) {
        rc = this.#spin();
        if (rc > 0) this.spins++;
      }
      if (rc === 0 && earliest > performance.now()) {
        const wait = Math.min(POLL_SLICE_MS, Math.ceil(earliest - performance.now()));
        this.#armedUntil = performance.now() + wait;
        this.#polling = true;
        this.#woken = false;
        try {
          rc = await l.poll(this.#pollBuf, BigInt(n), wait);
        } finally {
          this.#polling = false;
          this.polls++;
          for (const s of this.#deferredClose.splice(0)) s.close();
        }
        // The eventfd may have been written after the poll returned: keep it readable
        // (it is drained when the poll reports it), so the next poll returns at once.
        this.#woken = false;
        if (rc < 0) rc = 0; // EINTR: just poll again
      }
      if (this.#closed) break;
      this.#dispatch(rc);
    }
    for (const r of [...this.#regs]) r.close();
    for (const s of this.#deferredClose.splice(0)) s.close();
    l.close(this.#efd);
  }

  /** Stops the loop and closes every registered socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#polling) this.#wake();
    await this.finished;
  }
}
