/**
 * @module
 * Which subnet each served segment gets, carved from `subnet_pool` (pure: the
 * caller passes the store's rows as `previous`, what it saw on the wire as
 * `avoid`, and the clock as `now`).
 *
 * Why it decides the way it does:
 * - The operator's word wins: a subnet pinned in config is assigned to its
 *   segment even when it overlaps something seen on the wire or a stored
 *   allocation; everything else then moves out of its way.
 * - Nodes must find their segment where they left it after a reboot of theirs
 *   or of the central node, so a stored allocation is kept while it still
 *   fits (right size, inside a pool, clear of the wire and the pins), even if
 *   a lower block has become free or it lies in a less preferred pool.
 * - A segment that vanished (cable moved, switch rebooting) is likely to come
 *   back, so its allocation stays reserved until `lastSeen + holdMs`. A
 *   segment that is present but no longer needs us (a DHCP server appeared,
 *   `mode: off`) is treated the same way: it stops claiming, it is not evicted.
 * - A subnet already in use on the network must never be handed out: new and
 *   kept subnets never overlap `avoid`.
 * - The same inputs give the same plan, whatever their order: decisions are
 *   taken in a fixed order, pinned → kept → held → new, and within a step by
 *   segment id (UTF-16 code unit order, never the locale's); a new subnet is
 *   the lowest free aligned block, pools in their configured order.
 * - Re-planning with the returned allocations as `previous` (and the same
 *   other inputs) gives the same subnets: every returned allocation passes
 *   the check that keeps or holds it.
 *
 * A served subnet is at most a /30 (network, the central node, one client,
 * broadcast): a /31 or /32 has no address left for a node, so asking for one
 * is an error for that segment, as is a pinned /31 or /32. Free blocks are
 * found by jumping past whole occupied spans, so a /8 pool with hundreds of
 * occupants costs a few hundred steps per segment, not 65,536.
 */
import { type Cidr, cidrContains, cidrSize, formatCidr, prefixMask } from "../wire/mod.ts";

/** The longest prefix a served subnet may have: a /30 holds the central node and one client. */
export const MAX_SERVED_PREFIX = 30;

/** A segment as the scan sees it, asking (or not) for a subnet. */
export interface SegmentRequest {
  /** Stable segment id. */
  readonly id: string;
  /** False when the segment has its own DHCP server or is not to be served. */
  readonly needs: boolean;
  /** A subnet fixed in config for this segment. */
  readonly pinned?: Cidr;
  /** Prefix length for this segment instead of the default size. */
  readonly size?: number;
}

/** A stored allocation: `segment` had `subnet`, last seen at `lastSeen` (unix ms). */
export interface SubnetAllocation {
  readonly segment: string;
  readonly subnet: Cidr;
  readonly lastSeen: number;
}

/** Everything the planner decides from. */
export interface SubnetPlanInput {
  /** `subnet_pool`, in order of preference. */
  readonly pools: readonly Cidr[];
  /** `default_subnet_size`: the prefix length of a carved subnet. */
  readonly size: number;
  readonly segments: readonly SegmentRequest[];
  /** The allocations from the store (one per segment; if several, the newest counts). */
  readonly previous: readonly SubnetAllocation[];
  /**
   * Subnets in use on the network (neighbours, the host's other addresses,
   * subnets other DHCP servers hand out). Must not include what mesh itself
   * put on a served segment (its own address there, its clients' leases):
   * the segment would lose its subnet on every plan.
   */
  readonly avoid: readonly Cidr[];
  /**
   * Subnets neighbours were heard in: never carved anew, but no reason to
   * move a kept subnet. Any host can claim any address in an ARP frame; it
   * must not be able to move another segment's nodes to other addresses.
   */
  readonly seen?: readonly Cidr[];
  /** Unix ms. */
  readonly now: number;
  /** How long an allocation stays reserved after its segment was last seen. */
  readonly holdMs: number;
}

/** Where an assigned subnet came from. */
export type SubnetSource = "pinned" | "kept" | "new";

/** A served segment and its subnet. */
export interface AssignedSubnet {
  readonly segment: string;
  readonly subnet: Cidr;
  readonly source: SubnetSource;
}

/** A served segment that gets no subnet, and why (one line). */
export interface RefusedSubnet {
  readonly segment: string;
  readonly error: string;
}

export type SegmentSubnet = AssignedSubnet | RefusedSubnet;

/** The planner's answer. */
export interface SubnetPlan {
  /** One entry per segment that needs a subnet, in the order of `input.segments`. */
  readonly segments: readonly SegmentSubnet[];
  /**
   * The whole table to store, by segment id: the assigned subnets with
   * `lastSeen = now`, and the held ones (segments absent or not needing a
   * subnet, within hold time) unchanged.
   */
  readonly allocations: readonly SubnetAllocation[];
  /** Rows of `previous` that are not in `allocations` (expired, replaced or unfit), for the log. */
  readonly released: readonly SubnetAllocation[];
}

/** The central node's own address on a served subnet: its first host address. */
export function firstHost(subnet: Cidr): number {
  if (subnet.prefix > MAX_SERVED_PREFIX) {
    throw new RangeError(`${formatCidr(subnet)} has no host address for the central node`);
  }
  return (subnet.network + 1) >>> 0;
}

/** Plans the subnets of every segment that needs one. */
export function planSubnets(input: SubnetPlanInput): SubnetPlan {
  const { served, duplicates } = servedSegments(input.segments);
  const pins = input.segments.flatMap((s) => s.pinned ? [normalized(s.pinned)] : []);
  const p: Planning = {
    input,
    pools: input.pools.map(normalized),
    avoid: SpanSet.of(input.avoid.map(normalized)),
    claimed: SpanSet.of(pins),
    latest: latestBySegment(input.previous),
    decided: new Map(),
    survivors: new Set(),
    held: [],
  };
  assignPins(p, served);
  const carving = carvingRequests(p, served);
  keepStored(p, carving);
  holdStopped(p, new Set(served.map((s) => s.id)));
  carveNew(p, carving);
  return {
    segments: inInputOrder(input.segments, p.decided, duplicates),
    allocations: tableToStore(p.decided, p.held, input.now),
    released: input.previous.filter((row) => !p.survivors.has(row)),
  };
}

/** The state of one planning run, filled in step by step. */
interface Planning {
  readonly input: SubnetPlanInput;
  /** Pools in order of preference, host bits cleared. */
  readonly pools: readonly Cidr[];
  /** What is in use on the wire. */
  readonly avoid: SpanSet;
  /** Every pin (of served segments or not), and what was kept or held so far. */
  readonly claimed: SpanSet;
  /** The stored row of each segment. */
  readonly latest: ReadonlyMap<string, SubnetAllocation>;
  readonly decided: Map<string, SegmentSubnet>;
  /** Stored rows that stay in the table (unchanged or refreshed). */
  readonly survivors: Set<SubnetAllocation>;
  /** Stored rows of segments that stopped claiming, still reserved. */
  readonly held: SubnetAllocation[];
}

/** A served segment that wants a carved subnet of `prefix` (valid for serving). */
interface CarvingRequest {
  readonly id: string;
  readonly prefix: number;
}

function assign(p: Planning, segment: string, subnet: Cidr, source: SubnetSource): void {
  p.decided.set(segment, { segment, subnet, source });
  const prev = p.latest.get(segment);
  if (prev && sameCidr(prev.subnet, subnet)) p.survivors.add(prev);
}

function refuse(p: Planning, segment: string, error: string): void {
  p.decided.set(segment, { segment, error });
}

/** Pinned: the operator's word. Only another served pin (earlier by id) can stand in its way. */
function assignPins(p: Planning, served: readonly SegmentRequest[]): void {
  const pins: { readonly segment: string; readonly subnet: Cidr }[] = [];
  for (const s of served) {
    if (!s.pinned) continue;
    const subnet = normalized(s.pinned);
    const problem = servedPrefixProblem(subnet.prefix);
    const clash = pins.find((pin) => spansOverlap(pin.subnet, subnet));
    if (problem) {
      refuse(p, s.id, `pinned subnet ${formatCidr(subnet)} of segment ${s.id} ${problem}`);
    } else if (clash) refuse(p, s.id, pinClash(s.id, subnet, clash));
    else {
      pins.push({ segment: s.id, subnet });
      assign(p, s.id, subnet, "pinned");
    }
  }
}

/** The unpinned served segments with a size that can be served; the others are refused. */
function carvingRequests(p: Planning, served: readonly SegmentRequest[]): CarvingRequest[] {
  const carving: CarvingRequest[] = [];
  for (const s of served) {
    if (s.pinned) continue;
    const prefix = s.size ?? p.input.size;
    const problem = servedPrefixProblem(prefix);
    if (problem) {
      refuse(p, s.id, `subnet size ${prefixText(prefix)} for segment ${s.id} ${problem}`);
    } else carving.push({ id: s.id, prefix });
  }
  return carving;
}

/** Kept: a segment that had a subnet keeps it while it still fits. */
function keepStored(p: Planning, carving: readonly CarvingRequest[]): void {
  for (const c of carving) {
    const prev = p.latest.get(c.id);
    if (prev && keepable(prev.subnet, c.prefix, p)) {
      p.claimed.add(prev.subnet);
      assign(p, c.id, prev.subnet, "kept");
    }
  }
}

/** Held: segments that stopped claiming (absent, or not needing us) keep their subnet reserved. */
function holdStopped(p: Planning, servedIds: ReadonlySet<string>): void {
  for (const prev of byKey(p.latest)) {
    if (servedIds.has(prev.segment) || !holdable(prev, p)) continue;
    p.claimed.add(prev.subnet);
    p.held.push(prev);
    p.survivors.add(prev);
  }
}

/** New: the lowest free aligned block, pools in order, segments by id. */
function carveNew(p: Planning, carving: readonly CarvingRequest[]): void {
  const blocked = SpanSet.union(
    p.claimed,
    p.avoid,
    SpanSet.of((p.input.seen ?? []).map(normalized)),
  );
  for (const c of carving) {
    if (p.decided.has(c.id)) continue;
    const carved = carve(c.id, c.prefix, p.pools, blocked);
    if (typeof carved === "string") refuse(p, c.id, carved);
    else {
      blocked.add(carved);
      assign(p, c.id, carved, "new");
    }
  }
}

// ---------------------------------------------------------------------------
// Segments and stored rows.

/**
 * The first entry of every id that needs a subnet, sorted by id, and the
 * later entries that repeat an id (each gets an error).
 */
function servedSegments(segments: readonly SegmentRequest[]) {
  const seen = new Set<string>();
  const served: SegmentRequest[] = [];
  const duplicates = new Set<SegmentRequest>();
  for (const s of segments) {
    if (seen.has(s.id)) {
      if (s.needs) duplicates.add(s);
      continue;
    }
    seen.add(s.id);
    if (s.needs) served.push(s);
  }
  served.sort((a, b) => compareIds(a.id, b.id));
  return { served, duplicates };
}

/** One stored row per segment: the newest (ties: the lowest subnet, so input order never matters). */
function latestBySegment(previous: readonly SubnetAllocation[]): Map<string, SubnetAllocation> {
  const latest = new Map<string, SubnetAllocation>();
  for (const p of previous) {
    const best = latest.get(p.segment);
    if (!best || newer(p, best)) latest.set(p.segment, p);
  }
  return latest;
}

function newer(a: SubnetAllocation, b: SubnetAllocation): boolean {
  if (a.lastSeen !== b.lastSeen) return a.lastSeen > b.lastSeen;
  if (a.subnet.network !== b.subnet.network) return a.subnet.network < b.subnet.network;
  return a.subnet.prefix < b.subnet.prefix;
}

/** The values of a map keyed by segment id, sorted by id. */
function byKey<T>(map: ReadonlyMap<string, T>): T[] {
  return [...map.keys()].sort(compareIds).map((k) => map.get(k)!);
}

/** Code unit order: the same on every machine, unlike localeCompare. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stored subnet its segment may keep: its size, inside a pool, clear of the wire and of claims. */
function keepable(subnet: Cidr, prefix: number, p: Planning): boolean {
  return wellFormed(subnet) && subnet.prefix === prefix && insidePool(subnet, p.pools) &&
    !p.avoid.overlaps(subnet) && !p.claimed.overlaps(subnet);
}

/**
 * A stored subnet of a segment that stopped claiming, still reserved: within
 * hold time, and one its segment could get back (inside a pool, not taken by
 * a pin or a kept subnet). The wire is not checked: holding hands nothing out.
 */
function holdable(prev: SubnetAllocation, p: Planning): boolean {
  return p.input.now < prev.lastSeen + p.input.holdMs && wellFormed(prev.subnet) &&
    prev.subnet.prefix <= MAX_SERVED_PREFIX && insidePool(prev.subnet, p.pools) &&
    !p.claimed.overlaps(prev.subnet);
}

// ---------------------------------------------------------------------------
// Carving.

/** The lowest free aligned /prefix block, pools in order, or the error line. */
function carve(
  segment: string,
  prefix: number,
  pools: readonly Cidr[],
  blocked: SpanSet,
): Cidr | string {
  if (pools.length === 0) {
    return `no subnet pool configured: no free /${prefix} for segment ${segment}`;
  }
  const fitting = pools.filter((p) => p.prefix <= prefix);
  if (fitting.length === 0) {
    const are = pools.length === 1 ? "is" : "are";
    return `${poolsText(pools)} ${are} smaller than the /${prefix} wanted for segment ${segment}`;
  }
  for (const pool of fitting) {
    const free = lowestFreeBlock(pool, prefix, blocked);
    if (free) return free;
  }
  return `${poolsText(fitting)} exhausted: no free /${prefix} for segment ${segment}`;
}

/**
 * Walks the aligned blocks of `pool` from its start, jumping past each
 * occupied span met: at most one step per span of `blocked`.
 */
function lowestFreeBlock(pool: Cidr, prefix: number, blocked: SpanSet): Cidr | undefined {
  const block = 2 ** (32 - prefix);
  const poolLast = lastAddress(pool);
  for (let first = pool.network; first + block - 1 <= poolLast;) {
    const hit = blocked.firstOverlap(first, first + block - 1);
    if (!hit) return { network: first, prefix };
    first = Math.ceil((hit.last + 1) / block) * block;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Output.

function inInputOrder(
  segments: readonly SegmentRequest[],
  decided: ReadonlyMap<string, SegmentSubnet>,
  duplicates: ReadonlySet<SegmentRequest>,
): SegmentSubnet[] {
  const out: SegmentSubnet[] = [];
  for (const s of segments) {
    if (duplicates.has(s)) out.push({ segment: s.id, error: `segment ${s.id} is listed twice` });
    else if (s.needs) {
      const d = decided.get(s.id);
      if (d) out.push(d);
    }
  }
  return out;
}

function tableToStore(
  decided: ReadonlyMap<string, SegmentSubnet>,
  held: readonly SubnetAllocation[],
  now: number,
): SubnetAllocation[] {
  const rows: SubnetAllocation[] = [...held];
  for (const d of decided.values()) {
    if ("subnet" in d) rows.push({ segment: d.segment, subnet: d.subnet, lastSeen: now });
  }
  return rows.sort((a, b) => compareIds(a.segment, b.segment));
}

// ---------------------------------------------------------------------------
// Messages.

/** Why a prefix cannot be served, as the end of a sentence, or null when it can. */
function servedPrefixProblem(prefix: number): string | null {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    return `is not a prefix length 0..${MAX_SERVED_PREFIX}`;
  }
  if (prefix > MAX_SERVED_PREFIX) {
    return `is too small: a served subnet needs at least a /${MAX_SERVED_PREFIX} (the central node and one client)`;
  }
  return null;
}

function prefixText(prefix: number): string {
  return Number.isInteger(prefix) && prefix >= 0 && prefix <= 32 ? `/${prefix}` : String(prefix);
}

function pinClash(
  segment: string,
  subnet: Cidr,
  other: { readonly segment: string; readonly subnet: Cidr },
): string {
  return `pinned subnet ${formatCidr(subnet)} of segment ${segment} overlaps pinned subnet ${
    formatCidr(other.subnet)
  } of segment ${other.segment}`;
}

function poolsText(pools: readonly Cidr[]): string {
  return `${pools.length === 1 ? "subnet pool" : "subnet pools"} ${
    pools.map(formatCidr).join(", ")
  }`;
}

// ---------------------------------------------------------------------------
// Address arithmetic.

/** Host bits cleared: a Cidr from elsewhere is trusted for its prefix, not its network. */
function normalized(c: Cidr): Cidr {
  return { network: (c.network & prefixMask(c.prefix)) >>> 0, prefix: c.prefix };
}

/** A stored row is not trusted: it must be a real network. */
function wellFormed(c: Cidr): boolean {
  return Number.isInteger(c.prefix) && c.prefix >= 0 && c.prefix <= 32 &&
    Number.isInteger(c.network) && c.network >= 0 && c.network <= 0xffffffff &&
    ((c.network & prefixMask(c.prefix)) >>> 0) === c.network;
}

function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.network === b.network && a.prefix === b.prefix;
}

function insidePool(subnet: Cidr, pools: readonly Cidr[]): boolean {
  return pools.some((p) => p.prefix <= subnet.prefix && cidrContains(p, subnet.network));
}

function lastAddress(c: Cidr): number {
  return c.network + cidrSize(c) - 1;
}

function spansOverlap(a: Cidr, b: Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

/** An inclusive range of addresses. */
interface Span {
  readonly first: number;
  readonly last: number;
}

/**
 * Occupied addresses as disjoint spans sorted by address (overlapping and
 * touching ones merged), so "what is in the way of this block" is a binary
 * search.
 */
class SpanSet {
  readonly #spans: Span[] = [];

  static of(cidrs: readonly Cidr[]): SpanSet {
    const set = new SpanSet();
    for (const c of cidrs) set.add(c);
    return set;
  }

  static union(...sets: SpanSet[]): SpanSet {
    const set = new SpanSet();
    for (const s of sets.flatMap((x) => x.#spans)) set.#addSpan(s.first, s.last);
    return set;
  }

  add(c: Cidr): void {
    this.#addSpan(c.network, lastAddress(c));
  }

  overlaps(c: Cidr): boolean {
    return this.firstOverlap(c.network, lastAddress(c)) !== undefined;
  }

  /** The lowest span sharing an address with first..last. */
  firstOverlap(first: number, last: number): Span | undefined {
    const s = this.#spans[this.#firstEndingFrom(first)];
    return s !== undefined && s.first <= last ? s : undefined;
  }

  #addSpan(first: number, last: number): void {
    const from = this.#firstEndingFrom(first - 1);
    let to = from;
    while (to < this.#spans.length && this.#spans[to]!.first <= last + 1) {
      first = Math.min(first, this.#spans[to]!.first);
      last = Math.max(last, this.#spans[to]!.last);
      to++;
    }
    this.#spans.splice(from, to - from, { first, last });
  }

  /** Index of the first span whose last address is at or after `address`. */
  #firstEndingFrom(address: number): number {
    let lo = 0, hi = this.#spans.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#spans[mid]!.last < address) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
