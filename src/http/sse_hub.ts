/**
 * @module
 * The status page's live stream (Server-Sent Events), bounded: at most
 * `maxClients` streams; each client's changes are coalesced per node and
 * sent every `flushMs`, so a boot storm costs one message per node per
 * flush, not one per event; a client that does not read (its queue over
 * `maxQueuedBytes`) is dropped, and the browser's EventSource reconnects
 * on its own. A comment line every `heartbeatMs` keeps idle connections
 * alive through proxies and finds dead ones.
 */
export interface SseHubOptions {
  readonly maxClients?: number;
  readonly maxQueuedBytes?: number;
  readonly flushMs?: number;
  readonly heartbeatMs?: number;
  /** Closes every stream (the daemon stops). */
  readonly signal?: AbortSignal;
}

export interface SseCounters {
  connected: number;
  refused: number;
  /** Dropped for not reading. */
  dropped: number;
  messages: number;
}

interface Client {
  readonly controller: ReadableStreamDefaultController<Uint8Array>;
  /** Newest JSON per node key, until the next flush. */
  readonly pending: Map<string, string>;
}

const encoder = new TextEncoder();

export class SseHub {
  readonly maxClients: number;
  readonly #maxQueued: number;
  readonly #flushMs: number;
  readonly #heartbeatMs: number;
  readonly #clients = new Set<Client>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #seq = 0;
  #closed = false;
  readonly counters: SseCounters = { connected: 0, refused: 0, dropped: 0, messages: 0 };

  constructor(opts: SseHubOptions = {}) {
    this.maxClients = opts.maxClients ?? 32;
    this.#maxQueued = opts.maxQueuedBytes ?? 256 * 1024;
    this.#flushMs = opts.flushMs ?? 250;
    this.#heartbeatMs = opts.heartbeatMs ?? 15_000;
    opts.signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** A new stream, or null when the cap is reached (the caller answers 503). */
  open(): ReadableStream<Uint8Array> | null {
    if (this.#closed || this.#clients.size >= this.maxClients) {
      this.counters.refused++;
      return null;
    }
    let client: Client | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = { controller, pending: new Map() };
        this.#clients.add(client);
        this.counters.connected++;
        // Sent at once: the response head leaves with it, and the browser
        // learns how soon to come back after a drop.
        controller.enqueue(encoder.encode(": mesh live stream\nretry: 3000\n\n"));
        this.#heartbeat ??= setInterval(() => this.#beat(), this.#heartbeatMs);
      },
      cancel: () => {
        if (client) this.#remove(client);
      },
    }, { highWaterMark: this.#maxQueued, size: (chunk) => chunk.byteLength });
    return stream;
  }

  /** Queues one node's row (JSON) for every client; later rows of the same key replace it. */
  publish(key: string, json: string): void {
    if (this.#clients.size === 0) return;
    for (const c of this.#clients) c.pending.set(key, json);
    this.#flushTimer ??= setTimeout(() => this.#flush(), this.#flushMs);
  }

  #flush(): void {
    this.#flushTimer = undefined;
    for (const c of [...this.#clients]) {
      if (c.pending.size === 0) continue;
      let text = "";
      for (const json of c.pending.values()) {
        text += `id: ${++this.#seq}\nevent: node\ndata: ${json}\n\n`;
        this.counters.messages++;
      }
      c.pending.clear();
      this.#send(c, text);
    }
  }

  #beat(): void {
    for (const c of [...this.#clients]) this.#send(c, ": keep-alive\n\n");
  }

  #send(c: Client, text: string): void {
    try {
      c.controller.enqueue(encoder.encode(text));
    } catch {
      this.#remove(c); // the stream is already gone
      return;
    }
    // The client reads slower than we write: drop it rather than buffer without end.
    if ((c.controller.desiredSize ?? 0) <= 0) {
      this.counters.dropped++;
      this.#remove(c);
      try {
        c.controller.error(new Error("live stream client too slow"));
      } catch { /* already closed */ }
    }
  }

  #remove(c: Client): void {
    this.#clients.delete(c);
    if (this.#clients.size > 0) return;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#flushTimer);
    this.#heartbeat = undefined;
    this.#flushTimer = undefined;
  }

  /** Ends every stream; no new ones open. */
  close(): void {
    this.#closed = true;
    for (const c of [...this.#clients]) {
      this.#remove(c);
      try {
        c.controller.close();
      } catch { /* already closed */ }
    }
  }
}
