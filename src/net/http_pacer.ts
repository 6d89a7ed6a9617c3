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
 */
import { C, libc } from "./_libc.ts";

/** Part of the link the paced downloads may fill together (headroom for ACKs, DHCP, TFTP). */
const LINK_SHARE = 0.98;
/** Running caps are reshared at most this often. */
const RESHARE_MS = 50;
/** A running cap is rewritten when above its share by more than this part... */
const ABOVE = 0.01;
/** ...or below it by more than this part. */
const BELOW = 0.05;
/** "No cap" for SO_MAX_PACING_RATE (u32 ~0). */
const UNCAPPED = 0xffffffff;
/** Bodies smaller than this are not paced: they finish within a few round trips anyway. */
export const PACE_MIN_BYTES = 1 << 20;

/** Link rate in bytes/s behind a local IPv4 address (as a number); 0: do not pace. */
export type LinkRateOf = (localIp: number) => number;

/** Writes a socket's pacing cap (bytes/s). */
export type SetCap = (fd: number, bytesPerSec: number) => void;

const opt = new Uint8Array(4);
/** SO_MAX_PACING_RATE; best effort: a socket that refuses (closed meanwhile) just is not paced. */
function setMaxPacingRate(fd: number, bytesPerSec: number): void {
  new DataView(opt.buffer).setUint32(0, Math.min(bytesPerSec, UNCAPPED), true);
  libc().setsockopt(fd, C.SOL_SOCKET, C.SO_MAX_PACING_RATE, opt, 4);
}

interface Group {
  readonly rate: number;
  /** fd -> cap last written to it. */
  readonly flows: Map<number, number>;
  /** A reshare is due (flows began or ended since the last). */
  dirty: boolean;
}

export class Pacer {
  readonly #rateOf: LinkRateOf;
  readonly #groups = new Map<number, Group>();
  readonly #cap: SetCap;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(rateOf: LinkRateOf, cap: SetCap = setMaxPacingRate) {
    this.#rateOf = rateOf;
    this.#cap = cap;
  }

  /**
   * A large download on `fd` (local address `localIp`) begins; returns the
   * function to call when it ends (also on failure).
   */
  begin(fd: number, localIp: number): () => void {
    let g = this.#groups.get(localIp);
    if (g === undefined) {
      const rate = this.#rateOf(localIp);
      if (!(rate > 0)) return () => {};
      g = { rate, flows: new Map(), dirty: false };
      this.#groups.set(localIp, g);
    }
    g.flows.set(fd, 0);
    const share = shareOf(g);
    g.flows.set(fd, share);
    this.#cap(fd, share);
    this.#due(g);
    const group = g;
    return () => {
      if (!group.flows.delete(fd)) return;
      this.#cap(fd, UNCAPPED);
      if (group.flows.size === 0) this.#groups.delete(localIp);
      else this.#due(group);
    };
  }

  /** Downloads paced now (all links). */
  get active(): number {
    let n = 0;
    for (const g of this.#groups.values()) n += g.flows.size;
    return n;
  }

  /** Reshares every link now (the timer calls it; tests too). */
  reshare(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const g of this.#groups.values()) {
      if (!g.dirty) continue;
      g.dirty = false;
      const share = shareOf(g);
      for (const [fd, cap] of g.flows) {
        if (cap <= share * (1 + ABOVE) && cap >= share * (1 - BELOW)) continue;
        g.flows.set(fd, share);
        this.#cap(fd, share);
      }
    }
  }

  #due(g: Group): void {
    g.dirty = true;
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => this.reshare(), RESHARE_MS);
    // a pending reshare never keeps the process (or a test) alive
    Deno.unrefTimer(this.#timer);
  }
}

function shareOf(g: Group): number {
  return Math.max(1, Math.floor((g.rate * LINK_SHARE) / Math.max(1, g.flows.size)));
}
