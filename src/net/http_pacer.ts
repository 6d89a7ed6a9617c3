/**
 * @module
 * Fair shares of a link for large downloads. When a whole cluster boots at
 * once, every node starts its kernel download within the same second; new
 * TCP flows see an empty queue and send far above their share, the link's
 * queue overflows and the losses fall unevenly, so some nodes finish much
 * later than others. Capping each download at its share of the link
 * (SO_MAX_PACING_RATE: the kernel paces the flow itself, no timers in JS)
 * keeps the sum just under the link rate, so the queue stays short and
 * every download finishes at nearly the same time.
 *
 * Shares are per local address (one address per served link). A download
 * starts at the share it finds; the running ones are reshared at most every
 * RESHARE_MS (a storm starts hundreds per second), and a running cap is
 * rewritten only when it is above its share (the sum would overfill the
 * link) or well below it (the link would sit idle).
 *
 * A download whose last byte went to the kernel still counts until its
 * socket has sent what it holds: a send buffer holds megabytes, and a storm's
 * kernel downloads all end within seconds; not counting them while they
 * drain would let the next downloads start at shares the link does not have.
 */
import { C, libc } from "./_libc.ts";

/**
 * Part of the link rate the paced downloads may fill together. A pacing rate
 * counts TCP payload, a link's speed counts bits on the wire: a full frame
 * carries 1448 payload bytes in 1538 (preamble, Ethernet, IP and TCP headers
 * with timestamps, FCS, inter-frame gap). Of what is left, 98 %: headroom
 * for DHCP, TFTP and ACKs, so the link's queue stays empty.
 */
const LINK_SHARE = 0.98 * (1448 / 1538);
/** Running caps are reshared (and draining sockets looked at) at most this often. */
const RESHARE_MS = 50;
/** A running cap is rewritten when above its share by more than this part... */
const ABOVE = 0.01;
/** ...or below it by more than this part. */
const BELOW = 0.05;
/** A finished download stops counting once its socket holds less than this unsent. */
const DRAINED_BYTES = 64 * 1024;
/** Largest cap SO_MAX_PACING_RATE takes as a u32 (~0 means no cap). */
const UNCAPPED = 0xffffffff;
/** Bodies smaller than this are not paced: they finish within a few round trips anyway. */
export const PACE_MIN_BYTES = 1 << 20;

/** Link rate in bytes/s behind a local IPv4 address (as a number); 0: do not pace. */
export type LinkRateOf = (localIp: number) => number;

/** How the pacer reaches a socket: its cap (bytes/s), and its unsent bytes. */
export interface PacedSockets {
  cap(fd: number, bytesPerSec: number): void;
  unsent(fd: number): number;
}

const opt = new Uint8Array(4);
const SIOCOUTQNSD = 0x894b;
/** SO_MAX_PACING_RATE and SIOCOUTQNSD; best effort (a socket closed meanwhile is not paced). */
const KERNEL: PacedSockets = {
  cap(fd, bytesPerSec) {
    new DataView(opt.buffer).setUint32(0, Math.min(bytesPerSec, UNCAPPED), true);
    libc().setsockopt(fd, C.SOL_SOCKET, C.SO_MAX_PACING_RATE, opt, 4);
  },
  unsent(fd) {
    if (libc().ioctl(fd, BigInt(SIOCOUTQNSD), opt) < 0) return 0;
    return new DataView(opt.buffer).getInt32(0, true);
  },
};

interface Flow {
  /** Cap last written to its socket. */
  cap: number;
  /** Its body is out of JS; it counts until the socket has sent it. */
  draining: boolean;
}

interface Group {
  readonly localIp: number;
  readonly rate: number;
  readonly flows: Map<number, Flow>;
  /** A reshare is due (flows began or ended since the last). */
  dirty: boolean;
}

export class Pacer {
  readonly #rateOf: LinkRateOf;
  readonly #groups = new Map<number, Group>();
  /** fd -> its group, for the flows in any. */
  readonly #byFd = new Map<number, Group>();
  readonly #sockets: PacedSockets;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(rateOf: LinkRateOf, sockets: PacedSockets = KERNEL) {
    this.#rateOf = rateOf;
    this.#sockets = sockets;
  }

  /**
   * A large download on `fd` (local address `localIp`) begins; returns the
   * function to call when its last byte went to the kernel (also on failure).
   */
  begin(fd: number, localIp: number): () => void {
    const held = this.#byFd.get(fd);
    if (held !== undefined && held.localIp !== localIp) this.closed(fd);
    let g = this.#groups.get(localIp);
    if (g === undefined) {
      const rate = this.#rateOf(localIp);
      if (!(rate > 0)) return () => {};
      g = { localIp, rate, flows: new Map(), dirty: false };
      this.#groups.set(localIp, g);
    }
    const flow: Flow = g.flows.get(fd) ?? { cap: 0, draining: false };
    flow.draining = false;
    g.flows.set(fd, flow);
    this.#byFd.set(fd, g);
    const share = shareOf(g);
    if (flow.cap !== share) {
      flow.cap = share;
      this.#sockets.cap(fd, share);
    }
    this.#due(g);
    return () => {
      if (g.flows.get(fd) !== flow) return;
      flow.draining = true;
      this.#due(g);
    };
  }

  /** The connection on `fd` closed: its flow is gone at once (the fd number may be reused). */
  closed(fd: number): void {
    const g = this.#byFd.get(fd);
    if (g === undefined) return;
    this.#byFd.delete(fd);
    g.flows.delete(fd);
    if (g.flows.size === 0) this.#groups.delete(g.localIp);
    else this.#due(g);
  }

  /** Downloads counted now (all links), draining ones included. */
  get active(): number {
    return this.#byFd.size;
  }

  /** Drops drained flows and reshares every link now (the timer calls it; tests too). */
  reshare(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let draining = false;
    for (const g of [...this.#groups.values()]) {
      for (const [fd, f] of g.flows) {
        if (!f.draining) continue;
        if (this.#sockets.unsent(fd) < DRAINED_BYTES) {
          g.flows.delete(fd);
          this.#byFd.delete(fd);
          g.dirty = true;
        } else draining = true;
      }
      if (g.flows.size === 0) {
        this.#groups.delete(g.localIp);
        continue;
      }
      if (!g.dirty) continue;
      g.dirty = false;
      const share = shareOf(g);
      for (const [fd, f] of g.flows) {
        if (f.cap <= share * (1 + ABOVE) && f.cap >= share * (1 - BELOW)) continue;
        f.cap = share;
        this.#sockets.cap(fd, share);
      }
    }
    // sockets still draining are looked at again on the next round
    if (draining) this.#schedule();
  }

  #due(g: Group): void {
    g.dirty = true;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.reshare(), RESHARE_MS);
    // a pending reshare never keeps the process (or a test) alive
    Deno.unrefTimer(this.#timer);
  }
}

function shareOf(g: Group): number {
  return Math.max(1, Math.floor((g.rate * LINK_SHARE) / Math.max(1, g.flows.size)));
}
