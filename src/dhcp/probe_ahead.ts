/**
 * @module
 * Probing ahead of demand (I/O shell around ConflictProbe). The next
 * addresses each pool will offer are ARP-probed before anyone asks for them,
 * so a new machine's DISCOVER usually finds its address already known to be
 * free and is answered at once instead of after a probe timeout. The window
 * follows demand: PREFETCH_MIN addresses when quiet, up to PREFETCH_MAX
 * (four times the fresh offers of the last second or two) while new machines
 * keep arriving. A round runs every `everyMs`, and again right after a
 * fresh offer, for as long as fresh offers keep coming.
 */
import { getLogger } from "@logtape/logtape";
import { formatIpv4 } from "../wire/mod.ts";
import type { ConflictProbe } from "./conflict_probe.ts";

const log = getLogger(["mesh", "dhcp"]);

/**
 * Addresses per segment kept probed ahead, at least: a small cluster
 * switched on at once finds all its addresses probed (an ARP probe a second
 * while idle, with the cache's 60 s).
 */
const PREFETCH_MIN = 64;
/**
 * At most per round: a storm of new machines is met within a round or two,
 * and a flood of made-up MACs costs at most this many ARP probes per probe
 * timeout (rounds run one at a time), never more than the pool holds.
 */
const PREFETCH_MAX = 1024;
/** A round probes this many times the fresh offers of the last second or two. */
const DEMAND_FACTOR = 4;

/** One segment whose addresses can be probed (the ingress link of its pool). */
export interface ProbeAheadSegment {
  readonly segment: string;
  readonly probe: Pick<ConflictProbe, "cached" | "inUse">;
  /** True for addresses on the probe's link (only those can be probed). */
  covers(ip: number): boolean;
}

export interface ProbeAheadOptions {
  readonly segments: readonly ProbeAheadSegment[];
  /** The addresses `segment` will offer next, in order (e.g. `LeasePool.upcomingFresh`). */
  readonly upcoming: (segment: string, count: number) => readonly number[];
  /** Someone answered for `ip` before we offered it: it must never be offered. */
  readonly onInUse: (segment: string, ip: number) => void;
  /** How often a round runs without demand (the probe cache keeps results 60 s). */
  readonly everyMs: number;
}

/** Events counted in two one-second buckets: the last one to two seconds. */
class RecentCount {
  #second = 0;
  #current = 0;
  #previous = 0;
  add(): void {
    this.#roll();
    this.#current++;
  }
  total(): number {
    this.#roll();
    return this.#current + this.#previous;
  }
  #roll(): void {
    const second = Math.floor(performance.now() / 1000);
    if (second === this.#second) return;
    this.#previous = second === this.#second + 1 ? this.#current : 0;
    this.#current = 0;
    this.#second = second;
  }
}

/** Keeps the next addresses of every segment probed. */
export class ProbeAhead {
  readonly #opts: ProbeAheadOptions;
  readonly #demand = new RecentCount();
  readonly #timer: ReturnType<typeof setInterval>;
  #running = false;
  #queued = false;
  /** A fresh address was offered since the current round started. */
  #offeredSinceRound = false;
  #closed = false;

  constructor(opts: ProbeAheadOptions) {
    this.#opts = opts;
    void this.#round();
    this.#timer = setInterval(() => void this.#round(), opts.everyMs);
  }

  /** A fresh (never used) address was just offered: probe further ahead soon. */
  noteFreshOffer(): void {
    this.#demand.add();
    this.#offeredSinceRound = true;
    this.#soon();
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
  }

  async #round(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    const count = Math.min(
      PREFETCH_MAX,
      Math.max(PREFETCH_MIN, DEMAND_FACTOR * this.#demand.total()),
    );
    this.#offeredSinceRound = false;
    try {
      for (const s of this.#opts.segments) {
        const todo = this.#opts.upcoming(s.segment, count)
          .filter((ip) => s.covers(ip) && s.probe.cached(ip) === undefined);
        const found = await Promise.all(todo.map((ip) => s.probe.inUse(ip)));
        if (this.#closed) return;
        for (const [i, inUse] of found.entries()) {
          if (!inUse) continue;
          log.warn("address in use before any offer; quarantined", {
            ip: formatIpv4(todo[i]!),
            segment: s.segment,
          });
          this.#opts.onInUse(s.segment, todo[i]!);
        }
      }
    } catch (e) {
      log.warn("probe prefetch failed", { error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.#running = false;
      // Fresh offers went out while this round probed: go on while the demand lasts.
      if (this.#offeredSinceRound) this.#soon();
    }
  }

  /** Runs a round on the next turn of the event loop (one at a time). */
  #soon(): void {
    if (this.#queued || this.#closed) return;
    this.#queued = true;
    setTimeout(() => {
      this.#queued = false;
      void this.#round();
    }, 0);
  }
}
