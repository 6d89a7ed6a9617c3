/**
 * @module
 * A nonblocking socket descriptor whose readability can be awaited through
 * the process's reactor (reactor.ts), for the sockets that are read on
 * demand rather than by a handler of their own (test clients, one-off
 * waits). It owns the one rule such waits need: a wait's registration leaves
 * the epoll set before the fd is closed, so a reused fd number can never be
 * taken out of the set under its new owner.
 */
import { C, libc } from "./_libc.ts";
import { Reactor, type Registration } from "./reactor.ts";

/** An open descriptor and its pending waits. */
export class PolledFd {
  #fd: number;
  readonly #waits = new Set<{ reg: Registration; resolve: (ready: boolean) => void }>();

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The descriptor; -1 once closed. */
  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#fd < 0;
  }

  /** Resolves true once readable, false after `timeoutMs` or on close. */
  waitReadable(timeoutMs: number): Promise<boolean> {
    if (this.#fd < 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const settle = (ready: boolean) => {
        this.#waits.delete(wait);
        wait.reg.release();
        // The awaiting code runs at the reactor's next turn, not a budget later.
        Reactor.shared().wantTurn();
        resolve(ready);
      };
      const wait = {
        resolve: settle,
        reg: Reactor.shared().add({ fd: this.#fd, close() {} }, {
          ready: () => settle(true),
          timeout: () => settle(false),
        }, { events: C.EPOLLIN, oneShot: true }),
      };
      this.#waits.add(wait);
      wait.reg.deadline = performance.now() + timeoutMs;
    });
  }

  /** Ends pending waits (false), then closes the descriptor. */
  close(): void {
    if (this.#fd < 0) return;
    for (const w of [...this.#waits]) w.resolve(false);
    libc().close(this.#fd);
    this.#fd = -1;
  }
}
