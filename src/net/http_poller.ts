/**
 * @module
 * The HTTP engine's view of the process's one reactor (reactor.ts): the
 * listener is watched level-triggered, and a connection waits for one thing
 * at a time (read or write) as a promise.
 *
 * A connection's fd is registered one-shot on its first wait and re-armed for
 * each later one; after readiness fires it stays disarmed, so a client that
 * hangs up while the app is busy cannot make the loop spin. A wait's deadline
 * is the registration's, so timeouts are exact. Wake-ups can be spurious:
 * callers always retry the call and wait again on EAGAIN.
 */
import { Reactor, type Registration } from "./reactor.ts";

/** Result of a wait that did not see the fd become ready. */
export const WAIT_TIMEOUT = -1;
export const WAIT_CLOSED = -2;

/** The fd is owned (and closed) by the HTTP engine, not by its registration. */
function borrowed(fd: number) {
  return { fd, close() {} };
}

interface Waiting {
  readonly reg: Registration;
  resolve: ((events: number) => void) | undefined;
}

export class Poller {
  readonly #reactor: Reactor;
  readonly #watchers = new Map<number, Registration>();
  readonly #conns = new Map<number, Waiting>();
  #onError: (e: unknown) => void = () => {};
  #stopped = false;
  #stop: () => void = () => {};
  readonly #done: Promise<void>;

  constructor(reactor: Reactor = Reactor.shared()) {
    this.#reactor = reactor;
    this.#done = new Promise((r) => this.#stop = r);
  }

  /** Calls `onReady` whenever `fd` is ready for `events` (level-triggered), until unwatch. */
  watch(fd: number, events: number, onReady: (events: number) => void): void {
    const reg = this.#reactor.add(borrowed(fd), {
      ready: (ev) => {
        // One failing callback must not end the loop.
        try {
          onReady(ev);
        } catch (e) {
          this.#onError(e);
        }
        this.#reactor.wantTurn();
      },
      timeout() {},
    }, { events });
    this.#watchers.set(fd, reg);
  }

  unwatch(fd: number): void {
    this.#watchers.get(fd)?.release();
    this.#watchers.delete(fd);
  }

  /**
   * Resolves with the ready events once `fd` is ready for `events`, with
   * WAIT_TIMEOUT after `deadline` (performance.now() ms), or WAIT_CLOSED when
   * cancelled. One wait per fd at a time.
   */
  wait(fd: number, events: number, deadline: number): Promise<number> {
    let w = this.#conns.get(fd);
    if (w === undefined) {
      const entry: Waiting = {
        resolve: undefined,
        reg: this.#reactor.add(borrowed(fd), {
          ready: (ev) => this.#settle(entry, ev),
          timeout: () => this.#settle(entry, WAIT_TIMEOUT),
        }, { events, oneShot: true, disarmed: true }),
      };
      w = entry;
      this.#conns.set(fd, w);
    }
    const p = new Promise<number>((resolve) => w.resolve = resolve);
    w.reg.deadline = deadline;
    try {
      w.reg.arm(events);
    } catch (e) {
      w.resolve = undefined;
      return Promise.reject(e);
    }
    return p;
  }

  #settle(w: Waiting, events: number): void {
    const resolve = w.resolve;
    if (resolve === undefined) return; // a readiness nobody waits for any more
    w.resolve = undefined;
    w.reg.deadline = Infinity;
    this.#reactor.wantTurn();
    resolve(events);
  }

  /** Ends a pending wait on `fd` with WAIT_CLOSED (no-op without one). */
  cancel(fd: number): void {
    const w = this.#conns.get(fd);
    if (w !== undefined) this.#settle(w, WAIT_CLOSED);
  }

  /** Call right before closing `fd`. */
  forget(fd: number): void {
    const w = this.#conns.get(fd);
    if (w === undefined) return;
    this.#settle(w, WAIT_CLOSED);
    w.reg.release();
    this.#conns.delete(fd);
  }

  /** True when some other fd of the reactor is ready now. */
  othersReady(): boolean {
    return this.#reactor.othersReady();
  }

  /** True when `fd` has a pending wait. */
  waiting(fd: number): boolean {
    return this.#conns.get(fd)?.resolve !== undefined;
  }

  /** Resolves after stop(). Errors of one callback are passed to `onError`. */
  run(onError: (e: unknown) => void): Promise<void> {
    this.#onError = onError;
    return this.#done;
  }

  /** Ends every wait and registration; run() resolves. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const fd of [...this.#watchers.keys()]) this.unwatch(fd);
    for (const fd of [...this.#conns.keys()]) this.forget(fd);
    this.#stop();
  }
}
