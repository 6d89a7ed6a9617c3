/**
 * @module
 * One readiness loop for many DgramSockets: a single epoll set. When sockets
 * are ready, each one's handler runs synchronously (it reads the socket and
 * sends its answers), then the loop waits again. Per-socket deadlines become
 * the wait's timeout, so retransmission timers need no setTimeout.
 *
 * How the loop waits, cheapest first (measured with atftp in lock-step on a
 * 2-vCPU VM, 512-byte blocks):
 *  1. up to `spinMicros` (50) of zero-timeout checks: the answer to the DATA
 *     just sent usually comes within ~20 us, and a thread that went to sleep
 *     (a vCPU that halted) costs more to wake than the spin (8.6 -> 21 MB/s);
 *  2. up to `syncWaitMicros` (50) asleep in epoll_pwait2 on this thread: the
 *     datagram wakes it directly;
 *  3. epoll_wait on a worker thread (nonblocking FFI), so the event loop runs:
 *     two thread switches per wake-up, each waiting for a time slice on a busy
 *     machine.
 * Steps 1-2 hold the event loop, so after SYNC_BUDGET_MS of them the loop
 * gets a turn (a message to itself, which keeps this thread awake). Under
 * load many sockets share one wake-up.
 *
 * epoll_ctl is safe while another thread waits, so adding, pausing and
 * closing sockets need no wake-up; an eventfd in the set wakes the wait only
 * when a deadline moves earlier than the wait's timeout. Events carry a
 * registration id, not the fd, so a closed and reused fd number can never be
 * mistaken for the old socket.
 */
import { LoopYield } from "./loop_yield.ts";
import { getLogger } from "@logtape/logtape";
import { D, dgramErrno, dgramLibc } from "./_libc_dgram.ts";
import { LibcError } from "./_libc.ts";
import type { DgramSocket } from "./dgram_socket.ts";

const log = getLogger(["mesh", "net"]);

/** Longest single wait, so nothing can hide a deadline for long. */
const WAIT_SLICE_MS = 1000;
const MAX_EVENTS = 256;
/** Longest stretch of synchronous rounds before the event loop gets a turn. */
const SYNC_BUDGET_MS = 1;
/** A gap this long between two checks of a spin means the thread was preempted. */
const PREEMPTED_MS = 0.2;
/** How long spinning stays off after a preemption. */
const SPIN_BACKOFF_MS = 1000;
/** struct epoll_event is packed (12 bytes) on x86-64 only. */
const STRIDE = Deno.build.arch === "x86_64" ? 12 : 16;
const DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

export interface DgramHandler {
  /** The socket has datagrams: drain it (recvInto until -1). */
  readable(): void;
  /** The registration's deadline has passed (it is reset to Infinity first). */
  timeout(): void;
}

export interface DgramReactorOptions {
  /**
   * Microseconds to poll for readiness without sleeping while sockets are
   * registered (default 50, at most 100; 0 disables). On an otherwise idle
   * machine this doubles a lock-step exchange: both ends stay awake.
   */
  readonly spinMicros?: number;
  /**
   * Longest wait, in microseconds, on the event loop's own thread before
   * waiting on the worker thread (default 50, at most 1000; 0 disables). A
   * lock-step peer on a fast link answers within tens of microseconds: a
   * direct wake-up of this thread then replaces two thread switches (worker,
   * then event loop), which under CPU contention each wait for a time slice.
   */
  readonly syncWaitMicros?: number;
}

/** A socket in the loop. */
export class DgramRegistration {
  #deadline = Infinity;
  #paused = false;
  #closed = false;

  constructor(
    readonly reactor: DgramReactor,
    readonly id: number,
    readonly socket: DgramSocket,
    readonly handler: DgramHandler,
  ) {}

  /** When `timeout()` runs (performance.now() milliseconds); Infinity for never. */
  get deadline(): number {
    return this.#deadline;
  }
  set deadline(at: number) {
    this.#deadline = at;
    this.reactor.deadlineMoved(at);
  }

  /** A paused registration is neither polled nor timed (e.g. while a file read runs). */
  get paused(): boolean {
    return this.#paused;
  }
  set paused(p: boolean) {
    if (p === this.#paused || this.#closed) return;
    this.#paused = p;
    this.reactor.pause(this, p);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Leaves the loop and closes the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reactor.remove(this);
  }
}

/** The readiness loop. `close()` stops it and closes every registered socket. */
export class DgramReactor {
  readonly #regs = new Map<number, DgramRegistration>();
  readonly #epfd: number;
  readonly #efd: number;
  readonly #wakeBuf = new Uint8Array(8);
  readonly #drainBuf = new Uint8Array(8);
  readonly #ctl = new Uint8Array(16);
  readonly #ctlView = new DataView(this.#ctl.buffer);
  readonly #events = new Uint8Array(MAX_EVENTS * STRIDE);
  readonly #eventsView = new DataView(this.#events.buffer);
  readonly #syncWaitMicros: number;
  readonly #spinMicros: number;
  readonly #timespec = new Uint8Array(16);
  readonly #timespecView = new DataView(this.#timespec.buffer);
  #nextId = 1;
  #now = performance.now();
  #dispatching = false;
  #timespecMicros = -1;
  #spinOffUntil = 0;
  /** No deadline is earlier than this (see #sweep). */
  #nextDeadline = Infinity;
  #sweeping = false;
  #sweepLow = Infinity;
  readonly #loop = new LoopYield();
  #waiting = false;
  /** When the running wait returns at the latest (performance.now() ms). */
  #armedUntil = 0;
  #woken = false;
  #closed = false;
  /** Wake-ups of the worker-thread wait (for measurements). */
  waits = 0;
  /** Rounds served by a wait on this thread, without a thread hop (for measurements). */
  syncRounds = 0;
  /** Spins given up because the thread was preempted (for measurements). */
  spinBackoffs = 0;
  /** Settles when the loop has stopped. */
  readonly finished: Promise<void>;

  constructor(opts: DgramReactorOptions = {}) {
    this.#syncWaitMicros = Math.max(0, Math.min(1000, opts.syncWaitMicros ?? 50));
    this.#spinMicros = Math.max(0, Math.min(100, opts.spinMicros ?? 50));
    const l = dgramLibc();
    this.#epfd = l.epoll_create1(D.EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new LibcError("epoll_create1", dgramErrno());
    this.#efd = l.eventfd(0, D.EFD_NONBLOCK | D.EFD_CLOEXEC);
    if (this.#efd < 0) {
      const e = dgramErrno();
      l.close(this.#epfd);
      throw new LibcError("eventfd", e);
    }
    new DataView(this.#wakeBuf.buffer).setBigUint64(0, 1n, true);
    this.#control(D.EPOLL_CTL_ADD, this.#efd, 0);
    this.finished = this.#run();
  }

  /** Adds a socket; its handler runs when it is readable or its deadline passed. */
  add(socket: DgramSocket, handler: DgramHandler): DgramRegistration {
    if (this.#closed) throw new Error("reactor closed");
    const reg = new DgramRegistration(this, this.#nextId, socket, handler);
    // u32 ids, never 0 (the eventfd's); a wrapped id is long gone.
    this.#nextId = this.#nextId >= 0xfffffffe ? 1 : this.#nextId + 1;
    this.#control(D.EPOLL_CTL_ADD, socket.fd, reg.id);
    this.#regs.set(reg.id, reg);
    return reg;
  }

  /**
   * The clock (performance.now()) at the start of the current round, for
   * handlers setting deadlines: at most spinMicros + syncWaitMicros old, and
   * free. Outside a round it reads the clock.
   */
  now(): number {
    return this.#dispatching ? this.#now : performance.now();
  }

  /** Number of open registrations. */
  get size(): number {
    return this.#regs.size;
  }

  /** @internal A deadline moved: wake the wait only when it would sleep past it. */
  deadlineMoved(at: number): void {
    if (this.#sweeping && at < this.#sweepLow) this.#sweepLow = at;
    if (at >= this.#nextDeadline) return;
    this.#nextDeadline = at;
    if (this.#waiting && at < this.#armedUntil) this.#wake();
  }

  /** @internal */
  pause(reg: DgramRegistration, paused: boolean): void {
    // Level-triggered: a resumed socket with queued datagrams is reported at once.
    this.#control(paused ? D.EPOLL_CTL_DEL : D.EPOLL_CTL_ADD, reg.socket.fd, reg.id);
    if (!paused) this.deadlineMoved(reg.deadline);
  }

  /** @internal */
  remove(reg: DgramRegistration): void {
    this.#regs.delete(reg.id);
    // Closing the fd removes it from the set (the socket is never dup'ed).
    reg.socket.close();
  }

  #control(op: number, fd: number, id: number): void {
    this.#ctlView.setUint32(0, D.EPOLLIN, true);
    this.#ctlView.setUint32(DATA_OFFSET, id, true);
    this.#ctlView.setUint32(DATA_OFFSET + 4, 0, true);
    if (dgramLibc().epoll_ctl(this.#epfd, op, fd, this.#ctl) < 0) {
      throw new LibcError("epoll_ctl", dgramErrno());
    }
  }

  #wake(): void {
    if (this.#woken) return;
    this.#woken = true;
    dgramLibc().write(this.#efd, this.#wakeBuf, 8n);
  }

  /**
   * Fires the passed deadlines and recomputes the earliest one. `#nextDeadline`
   * is a lower bound kept up to date only when a deadline moves earlier; a
   * deadline pushed later by an ACK (the usual case) leaves it stale, so the
   * sweep runs about once per timeout period rather than once per wake-up.
   */
  #sweep(now: number): void {
    // A handler may move another registration's deadline, one already visited.
    this.#sweeping = true;
    this.#sweepLow = Infinity;
    let next = Infinity;
    for (const r of this.#regs.values()) {
      if (r.paused) continue;
      if (r.deadline <= now) {
        r.deadline = Infinity;
        try {
          r.handler.timeout();
        } catch (e) {
          log.error("datagram timer failed", { error: String(e) });
          r.close();
          continue;
        }
      }
      if (r.deadline < next) next = r.deadline;
    }
    this.#sweeping = false;
    this.#nextDeadline = Math.min(next, this.#sweepLow);
  }

  /** Runs the handlers of ready sockets, then those of passed deadlines. */
  #dispatch(count: number, before: number): void {
    this.#dispatching = true;
    try {
      this.#dispatchEvents(count);
    } finally {
      this.#dispatching = false;
    }
    // `before` is at most a spin and a sync wait old (1.1 ms): a deadline
    // further than that is not due yet.
    if (this.#nextDeadline - before > 2) return;
    const now = performance.now();
    if (now >= this.#nextDeadline) this.#sweep(now);
  }

  #dispatchEvents(count: number): void {
    const v = this.#eventsView;
    for (let i = 0; i < count; i++) {
      const id = v.getUint32(i * STRIDE + DATA_OFFSET, true);
      if (id === 0) {
        dgramLibc().read(this.#efd, this.#drainBuf, 8n);
        continue;
      }
      // Gone when an earlier handler in this batch closed it.
      const r = this.#regs.get(id);
      if (!r || r.paused) continue;
      try {
        r.handler.readable();
      } catch (e) {
        log.error("datagram handler failed", { error: String(e) });
        r.close();
      }
    }
  }

  /**
   * Checks for readiness without sleeping until `micros` have passed since
   * `since`. A lock-step answer on a fast link comes within tens of
   * microseconds; a thread that went to sleep meanwhile (and, in a virtual
   * machine, a vCPU that halted) costs more to wake than the spin.
   */
  #spin(since: number, micros: number): number {
    if (micros <= 0 || since < this.#spinOffUntil) return 0;
    const until = since + micros / 1000;
    let rc = 0;
    let prev = since;
    for (;;) {
      rc = this.#waitHere(0);
      if (rc !== 0) return rc;
      const t = performance.now();
      if (t - prev > PREEMPTED_MS) {
        // Another task took the CPU in the middle of the spin: the machine is
        // busy. A spinning thread loses the scheduler's wake-up preference
        // of threads that sleep, so sleep for a while.
        this.#spinOffUntil = t + SPIN_BACKOFF_MS;
        this.spinBackoffs++;
        return 0;
      }
      if (t >= until) return 0;
      prev = t;
    }
  }

  /** Waits up to `micros` on this thread (0: just checks). */
  #waitHere(micros: number): number {
    if (micros !== this.#timespecMicros) {
      this.#timespecMicros = micros;
      this.#timespecView.setBigInt64(0, 0n, true);
      this.#timespecView.setBigInt64(8, BigInt(Math.floor(micros * 1000)), true);
    }
    return dgramLibc().epoll_pwait2(this.#epfd, this.#events, MAX_EVENTS, this.#timespec, null);
  }

  async #run(): Promise<void> {
    const l = dgramLibc();
    // Let the constructor's caller register its sockets before the first wait.
    await Promise.resolve();
    let yielded = performance.now();
    while (!this.#closed) {
      // One clock read per round: handlers take `now()` from here (at most
      // spinMicros + syncWaitMicros old), and the sweep reads the clock only
      // when a deadline is near.
      let now = performance.now();
      this.#now = now;
      // Answers that arrive while (or shortly after) a batch is handled are
      // taken on this thread, but the event loop gets a turn at least every
      // SYNC_BUDGET_MS: through a message to ourselves, which keeps this
      // thread running (a wait on the worker would be two thread switches,
      // each waiting for a time slice on a busy machine).
      if (now - yielded >= SYNC_BUDGET_MS) {
        await this.#loop.yield();
        if (this.#closed) break;
        now = yielded = this.#now = performance.now();
      }
      const earliest = this.#nextDeadline;
      let rc = 0;
      if (this.#regs.size > 0 && earliest > now) {
        const left = (earliest - now) * 1000;
        rc = this.#spin(now, Math.min(this.#spinMicros, left));
        if (rc === 0) {
          rc = this.#waitHere(
            left >= this.#syncWaitMicros ? this.#syncWaitMicros : Math.floor(left),
          );
        }
        if (rc > 0) this.syncRounds++;
      }
      if (rc <= 0) {
        now = performance.now();
        if (earliest > now) {
          const wait = Math.min(WAIT_SLICE_MS, Math.ceil(earliest - now));
          this.#armedUntil = now + wait;
          this.#waiting = true;
          try {
            rc = await l.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, wait);
          } finally {
            this.#waiting = false;
            this.#woken = false;
            this.waits++;
          }
          now = yielded = performance.now();
        }
        this.#now = now;
      }
      if (this.#closed) break;
      this.#dispatch(Math.max(rc, 0), now); // rc < 0: EINTR, only deadlines
    }
    this.#loop.close();
    for (const r of [...this.#regs.values()]) r.close();
    l.close(this.#efd);
    l.close(this.#epfd);
  }

  /** Stops the loop and closes every registered socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waiting) this.#wake();
    await this.finished;
  }
}
