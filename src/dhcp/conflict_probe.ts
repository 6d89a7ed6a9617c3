/**
 * @module
 * Address conflict probe (RFC 5227 style) used before offering an address
 * that was never seen in use: an ARP who-has with sender IP 0.0.0.0 and a
 * short wait for anyone claiming it. Results are cached per IP for a while,
 * so a burst of DISCOVERs does not probe the same address again and again.
 * I/O shell: the clock is injected, the decision code is in src/arp.
 */
import { arpProbe, decodeArpFrame, encodeArpFrame, provesInUse } from "../arp/mod.ts";
import { bpfArp, interfaceMac, RawSocket, Reactor, type Registration } from "../net/mod.ts";
import { macToBytes } from "../wire/mod.ts";

export interface ConflictProbeOptions {
  readonly ifname: string;
  /** How long to wait for an answer (RFC 5227 uses 1-2 s; DHCP clients time out sooner). */
  readonly timeoutMs?: number;
  /** How long a result stays valid. */
  readonly cacheMs?: number;
  /** Milliseconds clock (injected for tests). */
  readonly now?: () => number;
  /** The reactor the socket waits in (the process's by default). */
  readonly reactor?: Reactor;
}

interface Pending {
  readonly ip: number;
  readonly resolve: (inUse: boolean) => void;
  /** When nobody answering makes the address free (performance.now()). */
  readonly due: number;
}

/** Probes addresses on one interface. */
export class ConflictProbe {
  readonly #sock: RawSocket;
  readonly #reg: Registration;
  readonly #mac: Uint8Array;
  readonly #timeoutMs: number;
  readonly #cacheMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<number, { inUse: boolean; at: number }>();
  readonly #inflight = new Map<number, Promise<boolean>>();
  /** Probes waiting for an answer, by address: an ARP frame names at most two addresses. */
  readonly #pending = new Map<number, Pending>();
  /** Probes sent and conflicts found, for stats. */
  probes = 0;
  conflicts = 0;

  constructor(opts: ConflictProbeOptions) {
    this.#mac = macToBytes(interfaceMac(opts.ifname));
    this.#sock = RawSocket.open(opts.ifname, bpfArp());
    // Every ARP frame of the link is read as it comes (a cheap lookup each),
    // so an answer that proves an address taken is seen at once.
    // Probe timeouts are the registration's deadline: exact, whatever the load.
    this.#reg = (opts.reactor ?? Reactor.shared()).add(this.#sock, {
      ready: () => void this.#drain(),
      timeout: () => this.#expire(),
    });
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
        due: performance.now() + this.#timeoutMs,
        resolve: (v) => {
          this.#pending.delete(ip);
          this.#inflight.delete(ip);
          this.#cache.set(ip, { inUse: v, at: this.#now() });
          if (v) this.conflicts++;
          // The prober awaits this: let it run at the reactor's next turn.
          this.#reg.reactor.wantTurn();
          resolve(v);
        },
      };
      this.#pending.set(ip, entry);
      if (entry.due < this.#reg.deadline) this.#reg.deadline = entry.due;
    });
    this.#inflight.set(ip, p);
    this.probes++;
    this.#sock.send(encodeArpFrame(arpProbe(this.#mac, ip)) as Uint8Array<ArrayBuffer>);
    return p;
  }

  /** Forgets a cached result (e.g. after a DECLINE proved the address taken). */
  forget(ip: number): void {
    this.#cache.delete(ip);
  }

  /** Calls the addresses whose probe timed out free; the next due one becomes the deadline. */
  #expire(): void {
    // Before calling any free, read what already arrived: after a stall the
    // deadline may be handled before the socket's readiness, and the answer
    // that proves an address taken may sit in the socket.
    this.#drain();
    const now = performance.now();
    let next = Infinity;
    for (const p of [...this.#pending.values()]) {
      if (p.due <= now) p.resolve(false);
      else if (p.due < next) next = p.due;
    }
    this.#reg.deadline = next;
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
    this.#reg.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
