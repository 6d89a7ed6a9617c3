/**
 * @module
 * What keeps a DHCP flood from starving the clients that matter (pure: the
 * caller passes the time): a request budget per client MAC, known clients
 * first in a busy batch, and a throttled "pool exhausted" warning.
 */
import type { PoolExhaustion } from "./authoritative.ts";

/** A token bucket per client MAC. */
export interface ClientBudgetOptions {
  /** Requests per second one MAC may keep sending (the refill rate). */
  readonly perSecond: number;
  /** Requests one MAC may send at once (the bucket's size; a new MAC starts full). */
  readonly burst: number;
  /** MACs remembered at most (>= 2); those not seen for longest are forgotten first. */
  readonly maxClients: number;
}

/**
 * The default budget. A real client sends a handful of requests per boot
 * (DORA per DHCP client, up to three clients in a PXE chain, retransmits a
 * second or more apart): 20 per second with a burst of 40 is far above that.
 * It also leaves the benchmark alone: perfdhcp (bench/dhcp.ts, -R 4000)
 * sends DISCOVERs at its offered rate spread evenly over its MACs (measured:
 * the busiest MAC sent 1.2 times the mean), so at its top step, 28,000/s,
 * each MAC sends 7 DORA, 14 requests, per second, and the busiest about 67 in
 * a 4 s run. 10 per second with a burst of 20 (60 in 4 s) would throttle
 * those; this budget allows 120 (tests/dhcp/client_budget_test.ts runs it).
 */
export const DEFAULT_CLIENT_BUDGET: ClientBudgetOptions = {
  perSecond: 20,
  burst: 40,
  maxClients: 16_384,
};

/**
 * Per-MAC token buckets (pure: the caller passes the time). The table is
 * bounded by `maxClients` and keeps the recently seen: MACs live in two
 * generations of at most half of it each; a MAC seen again moves to the
 * current one, and when the current one is full the older is dropped whole
 * (no per-entry eviction, no scan). A MAC is forgotten only after between
 * maxClients/2 and maxClients others were seen since its last request; it
 * comes back with a full bucket, which costs at most one burst, and an idle
 * MAC's bucket is full anyway, so forgetting it loses nothing.
 */
export class ClientBudget {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #half: number;
  #current = new Map<number, { tokens: number; at: number }>();
  #previous = new Map<number, { tokens: number; at: number }>();

  constructor(opts: ClientBudgetOptions) {
    if (!(opts.perSecond > 0) || !(opts.burst >= 1) || !(opts.maxClients >= 2)) {
      throw new RangeError("client budget: perSecond > 0, burst >= 1, maxClients >= 2");
    }
    this.#perMs = opts.perSecond / 1000;
    this.#burst = opts.burst;
    this.#half = Math.floor(opts.maxClients / 2);
  }

  /** Takes one request from `key`'s bucket at `nowMs` (monotonic); false when it is empty. */
  take(key: number, nowMs: number): boolean {
    let b = this.#current.get(key);
    if (b === undefined) {
      b = this.#previous.get(key);
      if (b !== undefined) this.#previous.delete(key);
      if (this.#current.size >= this.#half) {
        this.#previous = this.#current;
        this.#current = new Map();
      }
      this.#current.set(key, b ??= { tokens: this.#burst, at: nowMs });
    }
    const elapsed = nowMs - b.at;
    if (elapsed !== 0) {
      // A clock that went back refills nothing; the bucket counts from the new time.
      if (elapsed > 0) b.tokens = Math.min(this.#burst, b.tokens + elapsed * this.#perMs);
      b.at = nowMs;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** MACs currently remembered (at most maxClients). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}

/** A MAC (first six chaddr bytes) as a number: a cheap key for ClientBudget. */
export function macKey(chaddr: Uint8Array): number {
  return ((chaddr[0]! << 8) | chaddr[1]!) * 0x1_0000_0000 +
    (((chaddr[2]! << 24) | (chaddr[3]! << 16) | (chaddr[4]! << 8) | chaddr[5]!) >>> 0);
}

/** One warning line about an exhausted pool. */
export interface ExhaustionLine {
  readonly pool: PoolExhaustion;
  /** Requests unanswered for want of an address since the previous line (this one included). */
  readonly unanswered: number;
  /** Time since the previous line for this pool; undefined for the first. */
  readonly sinceMs?: number;
}

/**
 * Rate-limits the "pool exhausted" warning (pure: the caller passes the
 * time): at most one line per pool per `everyMs`, carrying how many requests
 * went unanswered since the line before. `note` may return a line at once
 * (the first exhaustion, or the first after a quiet `everyMs`); `due` returns
 * the lines whose time has come for counts held back meanwhile.
 */
export class ExhaustionNotices {
  readonly #everyMs: number;
  readonly #pools = new Map<string, { pool: PoolExhaustion; lastAt?: number; held: number }>();
  /** Requests held back over all pools (0: `due` has nothing to do). */
  #held = 0;

  constructor(everyMs = 60_000) {
    this.#everyMs = everyMs;
  }

  /** Records one unanswered request of `pool` at `nowMs`; returns a line to log now, or null. */
  note(pool: PoolExhaustion, nowMs: number): ExhaustionLine | null {
    let e = this.#pools.get(pool.segment);
    if (e === undefined) {
      // One entry per configured pool: the map cannot grow beyond them.
      e = { pool, held: 0 };
      this.#pools.set(pool.segment, e);
    }
    e.pool = pool;
    e.held++;
    this.#held++;
    return e.lastAt === undefined || nowMs - e.lastAt >= this.#everyMs
      ? this.#line(e, nowMs)
      : null;
  }

  /** Lines for pools with requests held back whose last line is at least `everyMs` old. */
  due(nowMs: number): ExhaustionLine[] {
    if (this.#held === 0) return [];
    const out: ExhaustionLine[] = [];
    for (const e of this.#pools.values()) {
      if (e.held > 0 && (e.lastAt === undefined || nowMs - e.lastAt >= this.#everyMs)) {
        out.push(this.#line(e, nowMs));
      }
    }
    return out;
  }

  #line(e: { pool: PoolExhaustion; lastAt?: number; held: number }, nowMs: number): ExhaustionLine {
    const line: ExhaustionLine = {
      pool: e.pool,
      unanswered: e.held,
      ...(e.lastAt !== undefined ? { sinceMs: nowMs - e.lastAt } : {}),
    };
    this.#held -= e.held;
    e.held = 0;
    e.lastAt = nowMs;
    return line;
  }
}

/**
 * `items` with the known ones first, each part in its original order (the
 * same array when there is nothing to move).
 */
export function knownFirst<T>(items: T[], isKnown: (item: T) => boolean): T[] {
  const known: T[] = [];
  const rest: T[] = [];
  let moved = false;
  for (const item of items) {
    if (isKnown(item)) {
      known.push(item);
      if (rest.length > 0) moved = true;
    } else rest.push(item);
  }
  if (!moved) return items;
  for (const item of rest) known.push(item);
  return known;
}
