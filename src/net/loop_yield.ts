/**
 * @module
 * One turn of the event loop for code that polls sockets on its own thread
 * (the TFTP reactor, the DHCP receive loop): a message to ourselves lets I/O
 * callbacks and timers run, far cheaper than a timer or a worker-thread hop.
 */

/** Yields to the event loop on demand; `close()` releases the channel and any waiter. */
export class LoopYield {
  #channel: MessageChannel | undefined;
  #resume: () => void = () => {};

  /** Resolves after the event loop has had one turn. */
  yield(): Promise<void> {
    if (!this.#channel) {
      this.#channel = new MessageChannel();
      this.#channel.port1.onmessage = () => this.#resume();
    }
    const ch = this.#channel;
    return new Promise((resolve) => {
      this.#resume = resolve;
      ch.port2.postMessage(null);
    });
  }

  /** Closes the channel (so it keeps nothing alive) and wakes a pending yield. */
  close(): void {
    this.#channel?.port1.close();
    this.#channel?.port2.close();
    this.#channel = undefined;
    this.#resume();
  }
}
