/**
 * @module
 * Address conflict probe (RFC 5227 style) used before offering an address
 * that was never seen in use: an ARP who-has with sender IP 0.0.0.0 and a
 * short wait for anyone claiming it. Results are cached per IP for a while,
 * so a burst of DISCOVERs does not probe the same address again and again.
 * I/O shell: the clock is injected, the decision code is in src/arp.
 */
import { arpProbe, decodeArpFrame, encodeArpFrame, provesInUse } from "../arp/mod.ts";
import { bpfArp, interfaceMac, RawSocket } from "../net/mod.ts";
import { macToBytes } from "../wire/mod.ts";

export interface ConflictProbeOptions {
  readonly ifname: string;
  /** How long to wait for an answer (RFC 5227 uses 1-2 s; DHCP clients time out sooner). */
  readonly timeoutMs?: number;
  /** How long a result stays valid. */
  readonly cacheMs?: number;
  /** Milliseconds clock (injected for tests). */
  readonly now?: () => number;
}

interface Pending {
  readonly ip: number;
  readonly resolve: (inUse: boolean) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Probes addresses on one interface. */
export class ConflictProbe {
  readonly #sock: RawSocket;
  readonly #mac: Uint8Array;
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<number, { inUse: boolean; at: number }>();
  readonly #inflight = new Map<number, Promise<boolean>>();
  /** Probes waiting for an answer, by address: an ARP frame names at most two addresses. */
  readonly #pending = new Map<number, Pending>();
  #reading = false;
  /** Probes sent and conflicts found, for stats. */
  probes = 0;
  conflicts = 0;

  constructor(opts: ConflictProbeOptions) {
    this.#mac = macToBytes(interfaceMac(opts.ifname));
    this.#sock = RawSocket.open(opts.ifname, bpfArp());
    this.#timeoutMs = opts.timeoutMs ?? 300;
    this.#cacheMs = opts.cacheMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
  }

  /** A cached answer, if fresh. */
  cached(ip: number): boolean | undefined {
    const c = this.#cache.get(ip);
    if (!c || this.#now() - c.at > this.#cacheMs) return undefined;
    return c.inUse;
  }

  /** True when some host answers for `ip` within the timeout. */
  inUse(ip: number): Promise<boolean> {
    const c = this.cached(ip);
    if (c !== undefined) return Promise.resolve(c);
    const running = this.#inflight.get(ip);
    if (running) return running;
    const p = new Promise<boolean>((resolve) => {
      const entry: Pending = {
        ip,
        resolve: (v) => {
          clearTimeout(entry.timer);
          this.#pending.delete(ip);
          this.#inflight.delete(ip);
          this.#cache.set(ip, { inUse: v, at: this.#now() });
          if (v) this.conflicts++;
          resolve(v);
        },
        // Before calling it free, read what already arrived: after a stall of
        // the event loop the expired timer runs before the read loop's turn,
        // and the answer that proves the address taken may sit in the socket.
        timer: setTimeout(() => {
          this.#drain();
          if (this.#pending.get(ip) === entry) entry.resolve(false);
        }, this.#timeoutMs),
      };
      this.#pending.set(ip, entry);
    });
    this.#inflight.set(ip, p);
    this.probes++;
    this.#sock.send(encodeArpFrame(arpProbe(this.#mac, ip)) as Uint8Array<ArrayBuffer>);
    this.#readLoop();
    return p;
  }

  /** Forgets a cached result (e.g. after a DECLINE proved the address taken). */
  forget(ip: number): void {
    this.#cache.delete(ip);
  }

  async #readLoop(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (this.#pending.size > 0 && !this.#sock.closed) {
        if (!this.#drain()) await this.#sock.wait(50);
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Handles every frame waiting in the socket now; false when there was none. */
  #drain(): boolean {
    if (this.#sock.closed) return false;
    let any = false;
    for (let frame = this.#sock.tryRecv(); frame; frame = this.#sock.tryRecv()) {
      any = true;
      let arp;
      try {
        arp = decodeArpFrame(frame);
      } catch {
        continue; // malformed ARP from a neighbour says nothing about our address
      }
      if (!arp) continue;
      // Only the sender's address or a probe's target can be proven in use: look
      // those up instead of testing every pending probe (thousands under load).
      for (const ip of [arp.spa, arp.tpa]) {
        const p = this.#pending.get(ip);
        if (p !== undefined && provesInUse(arp, p.ip, this.#mac)) p.resolve(true);
      }
    }
    return any;
  }

  close(): void {
    for (const p of [...this.#pending.values()]) p.resolve(false);
    this.#sock.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
