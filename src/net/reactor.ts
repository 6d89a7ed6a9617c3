/**
 * @module
 * The one readiness loop of mesh. Every socket mesh owns is registered in one
 * epoll set: the DHCP raw and UDP sockets, the ARP probes, the TFTP listener
 * and its transfer sockets, the HTTP listener and its connections. When fds
 * are ready, each one's handler runs synchronously (it reads, decides and
 * sends), then the loop waits again. Per-registration deadlines become the
 * wait's timeout, so retransmission and idle timers need no setTimeout.
 *
 * How the loop waits, cheapest first:
 *  1. up to `spinMicros` (50) of zero-timeout checks: a lock-step peer's next
 *     datagram usually comes within ~20 us, and a thread that went to sleep
 *     (a vCPU that halted) costs more to wake than the spin;
 *  2. up to `syncWaitMicros` (50) asleep in epoll_pwait2 on this thread: the
 *     next event wakes it directly;
 *  3. the idle hooks run (a DHCP server commits the requests it gathered);
 *     when one did work, the loop goes round again instead of sleeping;
 *  4. epoll_wait on a worker thread (nonblocking FFI), so the event loop runs:
 *     two thread switches per wake-up, each waiting for a time slice on a busy
 *     machine.
 * Steps 1-2 hold the event loop, so after SYNC_BUDGET_MS of them (or at once
 * when a handler settled a promise someone awaits) the event loop gets a turn
 * through a message to itself, which keeps this thread awake. A spin that was
 * preempted (the machine is busy) is switched off for a while: a spinning
 * thread loses the scheduler's wake-up preference of threads that sleep.
 *
 * epoll_ctl is safe while another thread waits, so adding, re-arming, pausing
 * and closing need no wake-up; an eventfd in the set wakes the wait only when
 * a deadline moves earlier than the wait's timeout. Events carry a
 * registration id, not the fd, so a closed and reused fd number can never be
 * mistaken for the old one.
 *
 * `Reactor.shared()` is the process's loop; it runs while anything is
 * registered (so an idle process can exit) and starts again on the next add.
 */
import { getLogger } from "@logtape/logtape";
import { C, errno, libc, LibcError } from "./_libc.ts";
import { LoopYield } from "./loop_yield.ts";

const log = getLogger(["mesh", "net"]);

/** Longest single wait, so nothing can hide a deadline for long. */
const WAIT_SLICE_MS = 1000;
const MAX_EVENTS = 256;
/** Longest stretch of synchronous rounds before the event loop gets a turn. */
const SYNC_BUDGET_MS = 1;
/**
 * Longest stretch without a turn that completes an async op. A message to
 * ourselves runs I/O callbacks and promises, but timers (setTimeout,
 * setInterval) fall behind on such turns alone; one that waits on the worker
 * thread now and then keeps them close to time. The reactor's own deadlines
 * never depend on it.
 */
const TIMER_TURN_MS = 10;
/** A gap this long between two checks of a spin means the thread was preempted. */
const PREEMPTED_MS = 0.2;
/** How long spinning stays off after a preemption. */
const SPIN_BACKOFF_MS = 1000;
/** struct epoll_event is packed (12 bytes) on x86-64 only. */
const STRIDE = Deno.build.arch === "x86_64" ? 12 : 16;
const DATA_OFFSET = Deno.build.arch === "x86_64" ? 4 : 8;

/** A descriptor the reactor can watch, closed when its registration closes. */
export interface ReactorIo {
  /** The descriptor; negative once closed. */
  readonly fd: number;
  close(): void;
}

export interface ReactorHandler {
  /**
   * The fd is ready: `events` holds the epoll bits (EPOLLIN, EPOLLOUT,
   * EPOLLERR, EPOLLHUP, EPOLLRDHUP). A readable socket should be drained.
   */
  ready(events: number): void;
  /** The registration's deadline has passed (it is reset to Infinity first). */
  timeout(): void;
}

export interface WatchOptions {
  /** epoll events of interest (default EPOLLIN). */
  readonly events?: number;
  /**
   * Report readiness once, then stay disarmed until `arm` (EPOLLONESHOT): for
   * a connection that waits for one thing at a time, so a peer that hangs up
   * while nobody waits cannot make the loop spin.
   */
  readonly oneShot?: boolean;
  /** Start without being in the epoll set (a one-shot fd armed later). */
  readonly disarmed?: boolean;
}

export interface ReactorOptions {
  /**
   * Microseconds to poll for readiness without sleeping (default 50, at most
   * 100; 0 disables). On an otherwise idle machine this doubles a lock-step
   * exchange: both ends stay awake.
   */
  readonly spinMicros?: number;
  /**
   * Longest wait, in microseconds, on the event loop's own thread before the
   * idle hooks and the worker-thread wait (default 50, at most 1000; 0
   * disables). A direct wake-up of this thread replaces two thread switches.
   */
  readonly syncWaitMicros?: number;
}

/** An fd in the loop. */
export class Registration {
  #deadline = Infinity;
  #paused = false;
  #closed = false;
  #events: number;
  readonly #oneShot: boolean;
  /** Whether the fd is in the epoll set (a one-shot fd stays in it while disarmed). */
  #inSet = false;

  /** @internal */
  constructor(
    readonly reactor: Reactor,
    readonly id: number,
    readonly io: ReactorIo,
    readonly handler: ReactorHandler,
    opts: WatchOptions,
  ) {
    this.#events = opts.events ?? C.EPOLLIN;
    this.#oneShot = opts.oneShot ?? false;
  }

  /** When `timeout()` runs (performance.now() milliseconds); Infinity for never. */
  get deadline(): number {
    return this.#deadline;
  }
  set deadline(at: number) {
    this.#deadline = at;
    if (!this.#closed) this.reactor.deadlineMoved(at);
  }

  /** A paused registration is neither polled nor timed (e.g. while a file read runs). */
  get paused(): boolean {
    return this.#paused;
  }
  set paused(p: boolean) {
    if (p === this.#paused || this.#closed) return;
    this.#paused = p;
    if (p) this.#leaveSet();
    else {
      // Level-triggered: a resumed socket with queued data is reported at once.
      this.#enterSet();
      this.reactor.deadlineMoved(this.#deadline);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sets the events of interest and (re-)arms a one-shot registration. */
  arm(events: number = this.#events): void {
    if (this.#closed) return;
    this.#events = events;
    if (!this.#paused) this.#enterSet();
  }

  /** @internal Adds the fd to the set (or modifies it there). */
  enter(): void {
    this.#enterSet();
  }

  #enterSet(): void {
    const flags = this.#oneShot ? this.#events | C.EPOLLONESHOT : this.#events;
    this.reactor.control(
      this.#inSet ? C.EPOLL_CTL_MOD : C.EPOLL_CTL_ADD,
      this.io.fd,
      this.id,
      flags,
    );
    this.#inSet = true;
  }

  #leaveSet(): void {
    if (!this.#inSet) return;
    this.#inSet = false;
    this.reactor.control(C.EPOLL_CTL_DEL, this.io.fd, this.id, 0);
  }

  /** Leaves the loop and closes the io. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reactor.remove(this);
    // Closing the fd removes it from the set (the reactor's fds are never dup'ed).
    this.io.close();
  }

  /** Leaves the loop without closing the io (its owner closes it next). */
  release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.reactor.remove(this);
    try {
      this.#leaveSet();
    } catch { /* the fd was closed already */ }
  }
}

/** The readiness loop. */
export class Reactor {
  static #shared: Reactor | undefined;

  /** The process's reactor: every socket of the daemon waits in it. */
  static shared(): Reactor {
    Reactor.#shared ??= new Reactor();
    return Reactor.#shared;
  }

  readonly #regs = new Map<number, Registration>();
  readonly #idle = new Set<() => boolean>();
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
  readonly #pollfd = new Uint8Array(8);
  readonly #pollView = new DataView(this.#pollfd.buffer);
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
  #turnWanted = false;
  /** When a turn last completed an async op (performance.now()). */
  #timerTurnAt = 0;
  #running = false;
  #closed = false;
  #finished: Promise<void> = Promise.resolve();
  /** Wake-ups of the worker-thread wait (for measurements). */
  waits = 0;
  /** Rounds served by a wait on this thread, without a thread hop (for measurements). */
  syncRounds = 0;
  /** Spins given up because the thread was preempted (for measurements). */
  spinBackoffs = 0;

  constructor(opts: ReactorOptions = {}) {
    this.#syncWaitMicros = Math.max(0, Math.min(1000, opts.syncWaitMicros ?? 50));
    this.#spinMicros = Math.max(0, Math.min(100, opts.spinMicros ?? 50));
    const l = libc();
    this.#epfd = l.epoll_create1(C.EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new LibcError("epoll_create1", errno());
    this.#efd = l.eventfd(0, C.EFD_NONBLOCK | C.EFD_CLOEXEC);
    if (this.#efd < 0) {
      const e = errno();
      l.close(this.#epfd);
      throw new LibcError("eventfd", e);
    }
    new DataView(this.#wakeBuf.buffer).setBigUint64(0, 1n, true);
    this.control(C.EPOLL_CTL_ADD, this.#efd, 0, C.EPOLLIN);
  }

  /** Settles when the loop has stopped (it starts again on the next add). */
  get finished(): Promise<void> {
    return this.#finished;
  }

  /** Adds an fd; its handler runs when it is ready or its deadline passed. */
  add(io: ReactorIo, handler: ReactorHandler, opts: WatchOptions = {}): Registration {
    if (this.#closed) throw new Error("reactor closed");
    const reg = new Registration(this, this.#nextId, io, handler, opts);
    // u32 ids, never 0 (the eventfd's); a wrapped id is long gone.
    this.#nextId = this.#nextId >= 0xfffffffe ? 1 : this.#nextId + 1;
    if (opts.disarmed !== true) reg.enter();
    this.#regs.set(reg.id, reg);
    if (!this.#running) {
      this.#running = true;
      this.#finished = this.#run();
    }
    return reg;
  }

  /**
   * Runs `hook` whenever the loop found nothing to do and is about to sleep
   * (and on every round where a wait on this thread timed out); returns its
   * removal. A hook that did work returns true: the loop then looks again
   * before sleeping. Hooks must not throw.
   */
  onIdle(hook: () => boolean): () => void {
    this.#idle.add(hook);
    return () => void this.#idle.delete(hook);
  }

  /**
   * Asks for a turn of the event loop before the next wait: a handler that
   * settled a promise calls it, so the awaiting code runs now rather than
   * after SYNC_BUDGET_MS.
   */
  wantTurn(): void {
    this.#turnWanted = true;
  }

  /**
   * The clock (performance.now()) at the start of the current round, for
   * handlers setting deadlines: at most spinMicros + syncWaitMicros old, and
   * free. Outside a round it reads the clock.
   */
  now(): number {
    return this.#dispatching ? this.#now : performance.now();
  }

  /**
   * True when some registered fd is ready now (nothing is consumed): a
   * handler doing long work in steps (a big sendfile) hands the loop back
   * between steps only when someone else is waiting.
   */
  othersReady(): boolean {
    const v = this.#pollView;
    v.setInt32(0, this.#epfd, true);
    v.setInt16(4, C.POLLIN, true);
    v.setInt16(6, 0, true);
    return libc().poll_now(this.#pollfd, 1n, 0) > 0;
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
  remove(reg: Registration): void {
    this.#regs.delete(reg.id);
    // The last one gone: let a worker-thread wait end now, so the loop stops.
    if (this.#regs.size === 0 && this.#waiting) this.#wake();
  }

  /** @internal */
  control(op: number, fd: number, id: number, events: number): void {
    this.#ctlView.setUint32(0, events >>> 0, true);
    this.#ctlView.setUint32(DATA_OFFSET, id, true);
    this.#ctlView.setUint32(DATA_OFFSET + 4, 0, true);
    if (libc().epoll_ctl(this.#epfd, op, fd, this.#ctl) < 0) {
      throw new LibcError("epoll_ctl", errno());
    }
  }

  #wake(): void {
    if (this.#woken) return;
    this.#woken = true;
    libc().write(this.#efd, this.#wakeBuf, 8n);
  }

  /**
   * Fires the passed deadlines and recomputes the earliest one. `#nextDeadline`
   * is a lower bound kept up to date only when a deadline moves earlier; a
   * deadline pushed later (an ACK, a request) leaves it stale, so the sweep
   * runs about once per timeout period rather than once per wake-up.
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
          log.error("reactor timer failed", { error: String(e) });
          r.close();
          continue;
        }
      }
      if (r.deadline < next) next = r.deadline;
    }
    this.#sweeping = false;
    this.#nextDeadline = Math.min(next, this.#sweepLow);
  }

  /** Runs the handlers of ready fds, then those of passed deadlines. */
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
        libc().read(this.#efd, this.#drainBuf, 8n);
        continue;
      }
      // Gone when an earlier handler in this batch closed it.
      const r = this.#regs.get(id);
      if (!r || r.paused) continue;
      try {
        r.handler.ready(v.getUint32(i * STRIDE, true));
      } catch (e) {
        log.error("reactor handler failed", { error: String(e) });
        r.close();
      }
    }
  }

  /** Runs the idle hooks; true when one of them did work. */
  #runIdle(): boolean {
    let worked = false;
    for (const hook of this.#idle) {
      try {
        if (hook()) worked = true;
      } catch (e) {
        log.error("reactor idle hook failed", { error: String(e) });
      }
    }
    return worked;
  }

  /**
   * Checks for readiness without sleeping until `micros` have passed since
   * `since`. Returns the events found (0 when none came).
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
        // Another task took the CPU in the middle of the spin: the machine is busy.
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
    return libc().epoll_pwait2(this.#epfd, this.#events, MAX_EVENTS, this.#timespec, null);
  }

  async #run(): Promise<void> {
    const l = libc();
    // Let the caller of the first add register the rest before the first wait.
    await Promise.resolve();
    let yielded = performance.now();
    while (!this.#closed && this.#regs.size > 0) {
      // One clock read per round: handlers take `now()` from here, and the
      // sweep reads the clock only when a deadline is near.
      let now = performance.now();
      this.#now = now;
      if (this.#turnWanted || now - yielded >= SYNC_BUDGET_MS) {
        this.#turnWanted = false;
        if (now - this.#timerTurnAt >= TIMER_TURN_MS) {
          // A zero-timeout wait on the worker thread: an async op, so timers fire too.
          const rc = await l.epoll_wait(this.#epfd, this.#events, MAX_EVENTS, 0);
          if (this.#closed || this.#regs.size === 0) break;
          now =
            yielded =
            this.#timerTurnAt =
            this.#now =
              performance.now();
          if (rc > 0) {
            this.#dispatch(rc, now);
            continue;
          }
        } else {
          await this.#loop.yield();
          if (this.#closed || this.#regs.size === 0) break;
          now = yielded = this.#now = performance.now();
        }
      }
      const earliest = this.#nextDeadline;
      let rc = 0;
      if (earliest > now) {
        const left = (earliest - now) * 1000;
        rc = this.#spin(now, Math.min(this.#spinMicros, left));
        if (rc === 0) {
          rc = this.#waitHere(
            left >= this.#syncWaitMicros ? this.#syncWaitMicros : Math.floor(left),
          );
        }
        if (rc > 0) this.syncRounds++;
      }
      if (rc <= 0 && this.#idle.size > 0 && this.#runIdle()) {
        // An idle hook sent or committed something: look again before sleeping.
        rc = this.#waitHere(0);
        now = performance.now();
      } else if (rc <= 0 && !this.#turnWanted) {
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
          now = yielded = this.#timerTurnAt = performance.now();
        }
      }
      this.#now = now;
      if (this.#closed) break;
      this.#dispatch(Math.max(rc, 0), now); // rc < 0: EINTR, only deadlines
    }
    this.#running = false;
    // An open channel would keep an idle process alive; the next yield opens a new one.
    this.#loop.close();
    if (this.#closed) this.#release();
  }

  #release(): void {
    for (const r of [...this.#regs.values()]) r.close();
    libc().close(this.#efd);
    libc().close(this.#epfd);
  }

  /** Stops the loop and closes every registered io (not for the shared reactor). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this === Reactor.#shared) throw new Error("the shared reactor is never closed");
    this.#closed = true;
    if (this.#waiting) this.#wake();
    if (this.#running) await this.#finished;
    else {
      this.#loop.close();
      this.#release();
    }
  }
}
