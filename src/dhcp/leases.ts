/**
 * @module
 * The address pool of one segment (pure; the clock is passed in as `now`).
 *
 * Allocation order for a DISCOVER: the client's pending offer → its
 * reservation → its current or previous lease (the same client gets the same
 * address back) → the requested address (option 50) when free → the lowest
 * never-used address (flagged `probe`: ARP it first) → the address that has
 * been free the longest (expired/released/quarantine-over, oldest first, so a
 * departed client has the best chance to get its old address back).
 *
 * Every mutation that must survive a restart is returned as LeaseChange rows
 * and only staged: later decisions see it, but the pool's rows change when
 * the caller has committed the rows and calls `apply` (or forgets them with
 * `discard` after a failed commit), so memory never runs ahead of the
 * database. Offers are memory only. Indexes: rows by ip, client key → ip, a cursor over
 * never-used addresses plus a heap of never-used addresses whose offer lapsed,
 * a heap of (free-since, ip) for reuse, and the pending offers in FIFO order.
 */
import { cidrBroadcast, cidrContains } from "../wire/mod.ts";
import { MinHeap } from "./_min_heap.ts";
import {
  type Allocation,
  clientKey,
  type LeaseChange,
  type LeaseClient,
  type LeaseRow,
  LeaseState,
  type PoolConfig,
  type PoolReservation,
} from "./lease_types.ts";

interface Offer {
  readonly key: string;
  readonly ip: number;
  readonly expiresAt: number;
}

/** Result of a bind attempt. */
export type BindResult =
  | { readonly ok: true; readonly lease: LeaseChange; readonly changes: readonly LeaseChange[] }
  | { readonly ok: false; readonly reason: string };

/** Counts for status pages and tests. */
export interface PoolCounts {
  readonly bound: number;
  readonly declined: number;
  readonly offered: number;
  readonly free: number;
}

/** The dynamic pool, reservations and leases of one segment. */
export class LeasePool {
  readonly config: PoolConfig;
  readonly #rows = new Map<number, LeaseRow>();
  readonly #byClient = new Map<string, number>();
  /** Rows decided but not yet applied (committed), by address. */
  readonly #staged = new Map<number, LeaseRow>();
  /** A staged change of a client's current address (undefined: none), by client key. */
  readonly #stagedOwner = new Map<
    string,
    { readonly ip: number | undefined; readonly row: LeaseRow }
  >();
  readonly #offers = new Map<number, Offer>();
  readonly #offerByClient = new Map<string, Offer>();
  readonly #offerQueue: Offer[] = [];
  #offerHead = 0;
  #freshCursor: number;
  readonly #freshReturned = new MinHeap();
  #reusable = new MinHeap();
  readonly #reservedIps = new Map<number, PoolReservation>();
  readonly #reservedByMac = new Map<string, PoolReservation>();
  readonly #reservedByNode = new Map<string, PoolReservation>();
  readonly #excluded: Set<number>;
  readonly #offerTimeoutMs: number;
  readonly #quarantineMs: number;

  constructor(config: PoolConfig) {
    this.config = config;
    this.#freshCursor = config.rangeStart;
    this.#excluded = new Set(config.excluded ?? []);
    this.#excluded.add(config.subnet.network).add(cidrBroadcast(config.subnet));
    this.#offerTimeoutMs = config.offerTimeoutMs ?? 30_000;
    this.#quarantineMs = config.declineQuarantineMs ?? 600_000;
    for (const r of config.reservations ?? []) {
      this.#reservedIps.set(r.ip, r);
      if (r.mac !== undefined) this.#reservedByMac.set(r.mac.toLowerCase(), r);
      if (r.node !== undefined) this.#reservedByNode.set(r.node.toLowerCase(), r);
    }
  }

  /** Rebuilds a pool from database rows (rows of other subnets are skipped). */
  static restore(config: PoolConfig, rows: Iterable<LeaseRow>): LeasePool {
    const pool = new LeasePool(config);
    for (const r of rows) if (cidrContains(config.subnet, r.ip)) pool.#put(r);
    return pool;
  }

  get segment(): string {
    return this.config.segment;
  }

  /** True when `ip` belongs to this pool's subnet. */
  contains(ip: number): boolean {
    return cidrContains(this.config.subnet, ip);
  }

  /** The row for an address, as decided (staged rows included). */
  lease(ip: number): LeaseRow | undefined {
    return this.#row(ip);
  }

  /** The row of `ip` as decisions see it: a staged one first. */
  #row(ip: number): LeaseRow | undefined {
    return this.#staged.get(ip) ?? this.#rows.get(ip);
  }

  /** The current address of a client as decisions see it (staged changes first). */
  #ipOf(key: string): number | undefined {
    const staged = this.#stagedOwner.get(key);
    const ip = staged !== undefined ? staged.ip : this.#byClient.get(key);
    if (ip === undefined) return undefined;
    // The address went to another client in a staged row.
    const row = this.#row(ip);
    return row !== undefined && clientKey(row) !== key ? undefined : ip;
  }

  /** Records a decided row; it reaches the pool's rows through `apply`. */
  #stage(row: LeaseRow, owner?: { ip: number | undefined }): LeaseRow {
    this.#staged.set(row.ip, row);
    if (owner !== undefined) this.#stagedOwner.set(clientKey(row), { ip: owner.ip, row });
    return row;
  }

  /** Rows not yet applied (decided, not known to be committed). */
  get stagedCount(): number {
    return this.#staged.size;
  }

  /**
   * The rows were committed: they become the pool's rows. Rows never staged
   * (other writers' rows) are taken too.
   */
  apply(rows: Iterable<LeaseRow>): void {
    for (const row of rows) {
      if (!this.contains(row.ip)) continue;
      this.#unstage(row);
      this.#put(row);
      // A declined address is nobody's current address.
      if (row.state === LeaseState.Declined) {
        const key = clientKey(row);
        if (this.#byClient.get(key) === row.ip) this.#byClient.delete(key);
      }
    }
  }

  /** The rows could not be committed: forget them, so memory agrees with the database. */
  discard(rows: Iterable<LeaseRow>): void {
    for (const row of rows) if (this.contains(row.ip)) this.#unstage(row);
  }

  #unstage(row: LeaseRow): void {
    if (this.#staged.get(row.ip) === row) this.#staged.delete(row.ip);
    const key = clientKey(row);
    if (this.#stagedOwner.get(key)?.row === row) this.#stagedOwner.delete(key);
  }

  /** Every applied (committed) row (for `mesh dhcp leases` and tests). */
  rows(): LeaseRow[] {
    return [...this.#rows.values()].sort((a, b) => a.ip - b.ip);
  }

  /** The client's current or previous address, if still associated with it. */
  leaseOf(client: LeaseClient): LeaseRow | undefined {
    const ip = this.#ipOf(clientKey(client));
    return ip === undefined ? undefined : this.#row(ip);
  }

  /** The reservation of a client, by MAC first, then by node id. */
  reservationOf(client: LeaseClient): PoolReservation | undefined {
    const byMac = this.#reservedByMac.get(client.mac);
    if (byMac !== undefined) return byMac;
    for (const id of client.nodeIds) {
      const r = this.#reservedByNode.get(id);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /** True when some reservation names a node id (then `reservationOf` needs the client's ids). */
  get hasNodeReservations(): boolean {
    return this.#reservedByNode.size > 0;
  }

  /** True when `ip` is bound (unexpired) or quarantined for anyone but `client`. */
  #heldByOther(ip: number, key: string, now: number): boolean {
    const row = this.#row(ip);
    if (row !== undefined && clientKey(row) !== key && row.expiresAt > now) {
      if (row.state === LeaseState.Bound || row.state === LeaseState.Declined) return true;
    }
    if (row?.state === LeaseState.Declined && row.expiresAt > now) return true;
    const offer = this.#offers.get(ip);
    return offer !== undefined && offer.key !== key && offer.expiresAt > now;
  }

  /** Why `client` may not have `ip` now, or null when it may. */
  refusal(client: LeaseClient, ip: number, now: number): string | null {
    if (!this.contains(ip)) return "not in this subnet";
    if (this.#excluded.has(ip)) return "excluded address";
    const reserved = this.#reservedIps.get(ip);
    if (reserved !== undefined && reserved !== this.reservationOf(client)) {
      return "reserved for another client";
    }
    const inRange = ip >= this.config.rangeStart && ip <= this.config.rangeEnd;
    if (!inRange && reserved === undefined && this.#row(ip) === undefined) {
      return "outside the dynamic range";
    }
    if (this.#heldByOther(ip, clientKey(client), now)) return "in use by another client";
    return null;
  }

  /** Picks and holds an address for a DISCOVER; null when the pool is exhausted. */
  allocate(client: LeaseClient, requested: number | undefined, now: number): Allocation | null {
    this.#expireOffers(now);
    const key = clientKey(client);
    const pick = this.#pick(client, key, requested, now);
    if (pick === null) return null;
    this.#hold(key, pick.ip, now);
    const hostname = this.reservationOf(client)?.hostname;
    return hostname !== undefined ? { ...pick, hostname } : pick;
  }

  #pick(
    client: LeaseClient,
    key: string,
    requested: number | undefined,
    now: number,
  ): Allocation | null {
    const held = this.#offerByClient.get(key);
    // Probed when it was first offered, and held for this client since: a
    // client repeating its DISCOVER gets it again at once.
    if (held !== undefined && held.expiresAt > now) {
      return { ip: held.ip, source: "offer", probe: false };
    }
    const res = this.reservationOf(client);
    if (res !== undefined && this.refusal(client, res.ip, now) === null) {
      return this.#alloc(res.ip, "reservation");
    }
    const mine = this.#ipOf(key);
    if (mine !== undefined && this.refusal(client, mine, now) === null) {
      return this.#alloc(mine, "current");
    }
    if (requested !== undefined && this.refusal(client, requested, now) === null) {
      return this.#alloc(requested, "requested");
    }
    const fresh = this.#nextFresh(client, now);
    if (fresh !== null) return { ip: fresh, source: "fresh", probe: true };
    const reused = this.#nextReusable(client, now);
    return reused === null ? null : { ip: reused, source: "reused", probe: false };
  }

  #alloc(ip: number, source: Allocation["source"]): Allocation {
    return { ip, source, probe: this.#row(ip) === undefined };
  }

  #isFresh(ip: number): boolean {
    return this.#row(ip) === undefined && !this.#excluded.has(ip) &&
      !this.#reservedIps.has(ip) && !this.#offers.has(ip);
  }

  #nextFresh(_client: LeaseClient, _now: number): number | null {
    while (this.#freshReturned.size > 0) {
      const ip = this.#freshReturned.pop()!.value;
      if (this.#isFresh(ip)) return ip;
    }
    while (this.#freshCursor <= this.config.rangeEnd) {
      const ip = this.#freshCursor++;
      if (this.#isFresh(ip)) return ip;
    }
    return null;
  }

  /**
   * The next `count` never-used addresses an OFFER would hand out, without
   * taking them: the server ARP-probes them ahead of time so the first
   * DISCOVER of a new machine does not wait for its probe.
   */
  upcomingFresh(count: number): number[] {
    const out: number[] = [];
    for (let ip = this.#freshCursor; ip <= this.config.rangeEnd && out.length < count; ip++) {
      if (this.#isFresh(ip)) out.push(ip);
    }
    return out;
  }

  #nextReusable(client: LeaseClient, now: number): number | null {
    const skipped: { key: number; value: number }[] = [];
    let found: number | null = null;
    for (let top = this.#reusable.peek(); top !== undefined; top = this.#reusable.peek()) {
      if (top.key > now) break;
      this.#reusable.pop();
      const row = this.#row(top.value);
      if (row === undefined || row.expiresAt !== top.key) continue; // stale entry
      if (this.refusal(client, top.value, now) !== null) {
        // Offered to someone else right now: keep the entry for later.
        if (this.#offers.has(top.value)) skipped.push(top);
        continue;
      }
      found = top.value;
      break;
    }
    for (const s of skipped) this.#reusable.push(s.key, s.value);
    return found;
  }

  #hold(key: string, ip: number, now: number): void {
    const prev = this.#offerByClient.get(key);
    if (prev !== undefined && prev.ip !== ip) this.#dropOffer(prev);
    const offer = { key, ip, expiresAt: now + this.#offerTimeoutMs };
    this.#offers.set(ip, offer);
    this.#offerByClient.set(key, offer);
    this.#offerQueue.push(offer);
  }

  #dropOffer(offer: Offer): void {
    if (this.#offers.get(offer.ip) === offer) this.#offers.delete(offer.ip);
    if (this.#offerByClient.get(offer.key) === offer) this.#offerByClient.delete(offer.key);
    // Give the address back to the structure it came from.
    const row = this.#row(offer.ip);
    if (row === undefined) this.#freshReturned.push(offer.ip, offer.ip);
    else this.#reusable.push(row.expiresAt, offer.ip);
  }

  /** Lapses offers older than the offer timeout (offers are queued in time order). */
  #expireOffers(now: number): void {
    const q = this.#offerQueue;
    while (this.#offerHead < q.length && q[this.#offerHead]!.expiresAt <= now) {
      const o = q[this.#offerHead++]!;
      if (this.#offers.get(o.ip) === o) this.#dropOffer(o);
    }
    if (this.#offerHead > 1024 && this.#offerHead * 2 > q.length) {
      q.splice(0, this.#offerHead);
      this.#offerHead = 0;
    }
  }

  /** Forgets the client's pending offer (it chose another server). */
  cancelOffer(client: LeaseClient): boolean {
    const offer = this.#offerByClient.get(clientKey(client));
    if (offer === undefined) return false;
    this.#dropOffer(offer);
    return true;
  }

  /** The address currently offered to the client, if any. */
  offerOf(client: LeaseClient, now: number): number | undefined {
    const o = this.#offerByClient.get(clientKey(client));
    return o !== undefined && o.expiresAt > now ? o.ip : undefined;
  }

  /**
   * Binds (or renews) `ip` for `client` for `leaseMs`. Moving to a new address
   * releases the client's old one. Fails when the address is not the client's
   * to have.
   */
  bind(client: LeaseClient, ip: number, now: number, leaseMs: number): BindResult {
    this.#expireOffers(now);
    const why = this.refusal(client, ip, now);
    if (why !== null) return { ok: false, reason: why };
    const key = clientKey(client);
    const changes: LeaseChange[] = [];
    const oldIp = this.#ipOf(key);
    const old = oldIp === undefined ? undefined : this.#row(oldIp);
    if (old !== undefined && old.ip !== ip && old.state === LeaseState.Bound) {
      changes.push(
        this.#stage({ ...old, state: LeaseState.Released, expiresAt: now, updatedAt: now }),
      );
    }
    const offer = this.#offers.get(ip);
    if (offer !== undefined) {
      this.#offers.delete(ip);
      if (this.#offerByClient.get(offer.key) === offer) this.#offerByClient.delete(offer.key);
    }
    const prev = this.#row(ip);
    const sameClient = prev !== undefined && clientKey(prev) === key &&
      prev.state === LeaseState.Bound && prev.expiresAt > now;
    const lease = this.#stage({
      ip,
      mac: client.mac,
      clientId: client.clientId,
      nodeId: client.nodeIds[0] ?? null,
      hostname: this.#reservedIps.get(ip)?.hostname ?? client.hostname,
      state: LeaseState.Bound,
      startsAt: sameClient ? prev.startsAt : now,
      expiresAt: now + leaseMs,
      segment: this.config.segment,
      updatedAt: now,
    }, { ip });
    changes.push(lease);
    return { ok: true, lease, changes };
  }

  /** DHCPRELEASE: the client gives `ip` back (kept associated for a later re-request). */
  release(client: LeaseClient, ip: number, now: number): LeaseChange | null {
    const row = this.#row(ip);
    if (row === undefined || clientKey(row) !== clientKey(client)) return null;
    if (row.state !== LeaseState.Bound) return null;
    return this.#stage({ ...row, state: LeaseState.Released, expiresAt: now, updatedAt: now });
  }

  /** DHCPDECLINE: the client found `ip` in use; quarantine it. */
  decline(client: LeaseClient, ip: number, now: number): LeaseChange | null {
    const key = clientKey(client);
    const row = this.#row(ip);
    const offer = this.#offers.get(ip);
    const ours = (row !== undefined && clientKey(row) === key) || offer?.key === key;
    if (!ours) return null;
    if (offer !== undefined) this.#dropOffer(offer);
    return this.quarantine(ip, now, client);
  }

  /**
   * Marks `ip` as in use by someone we do not know (an ARP probe got an
   * answer, `mac` = who answered): quarantined like a declined address.
   */
  quarantine(
    ip: number,
    now: number,
    who: { readonly mac: string; readonly clientId: string | null } = {
      mac: "00:00:00:00:00:00",
      clientId: null,
    },
  ): LeaseChange {
    const offer = this.#offers.get(ip);
    if (offer !== undefined) this.#dropOffer(offer);
    const change: LeaseChange = {
      ip,
      mac: who.mac,
      clientId: who.clientId,
      nodeId: null,
      hostname: null,
      state: LeaseState.Declined,
      startsAt: now,
      expiresAt: now + this.#quarantineMs,
      segment: this.config.segment,
      updatedAt: now,
    };
    // The decliner must get another address next time, not this one again.
    const key = clientKey(who);
    this.#stage(change, this.#ipOf(key) === ip ? { ip: undefined } : undefined);
    return change;
  }

  /** Marks bound rows whose time is up as expired (an occasional sweep). */
  expireDue(now: number): LeaseChange[] {
    const out: LeaseChange[] = [];
    for (const committed of this.#rows.values()) {
      const row = this.#row(committed.ip)!;
      if (row.state === LeaseState.Bound && row.expiresAt <= now) {
        out.push(this.#stage({ ...row, state: LeaseState.Expired, updatedAt: now }));
      }
    }
    return out;
  }

  /** Counts of the pool's dynamic range. */
  counts(now: number): PoolCounts {
    this.#expireOffers(now);
    let bound = 0;
    let declined = 0;
    for (const r of this.#rows.values()) {
      if (r.expiresAt <= now) continue;
      if (r.state === LeaseState.Bound) bound++;
      else if (r.state === LeaseState.Declined) declined++;
    }
    const { rangeStart, rangeEnd } = this.config;
    let usable = 0;
    for (let ip = rangeStart; ip <= rangeEnd; ip++) {
      if (!this.#excluded.has(ip) && !this.#reservedIps.has(ip)) usable++;
    }
    const offered = this.#offers.size;
    return { bound, declined, offered, free: Math.max(0, usable - bound - declined - offered) };
  }

  /** Stores a row and updates the indexes. */
  #put(row: LeaseRow): LeaseRow {
    const prev = this.#rows.get(row.ip);
    if (prev !== undefined) {
      const prevKey = clientKey(prev);
      if (prevKey !== clientKey(row) && this.#byClient.get(prevKey) === row.ip) {
        this.#byClient.delete(prevKey);
      }
    }
    this.#rows.set(row.ip, row);
    if (row.state !== LeaseState.Declined) {
      const key = clientKey(row);
      const current = this.#byClient.get(key);
      const currentRow = current === undefined ? undefined : this.#rows.get(current);
      // Restoring several rows of one client: its bound lease wins, then the newest row.
      const live = (r: LeaseRow) => r.state === LeaseState.Bound ? 1 : 0;
      if (
        currentRow === undefined || current === row.ip || live(row) > live(currentRow) ||
        (live(row) === live(currentRow) && currentRow.updatedAt <= row.updatedAt)
      ) {
        this.#byClient.set(key, row.ip);
      }
    }
    this.#reusable.push(row.expiresAt, row.ip);
    // Renewals leave stale heap entries behind; rebuild before they pile up.
    if (this.#reusable.size > 4 * this.#rows.size + 1024) this.#rebuildReusable();
    return row;
  }

  #rebuildReusable(): void {
    const heap = new MinHeap();
    for (const r of this.#rows.values()) heap.push(r.expiresAt, r.ip);
    this.#reusable = heap;
  }
}
