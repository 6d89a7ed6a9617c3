/**
 * @module
 * The DHCP server loop (I/O shell). Per interface: receive a burst of
 * requests → decode (a DecodeError is counted and logged at debug) → ask the
 * pure responder (authoritative.ts: its `Decision`, `RequestContext` and
 * `LeaseChange` types) → persist the lease changes of the whole burst in one
 * commit → send the replies whose changes are durable, to the RFC 2131 §4.1
 * destination the responder chose (destination.ts). No packet can stop the
 * loop: every step of every packet is guarded.
 *
 * Under a flood: every client MAC (chaddr) has a request budget (a token
 * bucket, ClientBudget), so one MAC hammering the server costs a decode per
 * packet and no more; when a burst fills a whole group, requests of known
 * clients (a lease or a reservation) are decided and answered first; and a
 * pool with no free address says so in one warning per pool per minute
 * (ExhaustionNotices) instead of going silent.
 */
import { getLogger } from "@logtape/logtape";
import { DecodeError } from "../errors.ts";
import { type DhcpDatagram, DhcpTransport, type SendTarget } from "../net/mod.ts";
import { type Cidr, cidrBroadcast, cidrContains, formatIpv4 } from "../wire/mod.ts";
import type { Decision, PoolExhaustion, RequestContext } from "./authoritative.ts";
import {
  ClientBudget,
  type ClientBudgetOptions,
  DEFAULT_CLIENT_BUDGET,
  type ExhaustionLine,
  ExhaustionNotices,
  knownFirst,
  macKey,
} from "./flood_guard.ts";
import { ConflictProbe } from "./conflict_probe.ts";
import { ProbeAhead } from "./probe_ahead.ts";
import { DHCP_CLIENT_PORT, MessageType, Opt } from "./constants.ts";
import type { Destination } from "./destination.ts";
import type { LeaseChange } from "./lease_types.ts";
import { decodePacket, type DhcpPacket, encodePacket } from "./packet.ts";

const log = getLogger(["mesh", "dhcp"]);

/** The pure decision maker the loop drives (the authoritative responder satisfies it). */
export interface DhcpResponder {
  respond(req: DhcpPacket, ctx: RequestContext): Decision;
  /** Whether the client holds a lease or a reservation (answered first under load). */
  knows?(req: DhcpPacket, ctx: RequestContext): boolean;
  /** An ARP probe found `ip` in use: quarantine it; returns rows to persist. */
  probeFailed?(segment: string, ip: number, now: number, mac?: string): readonly LeaseChange[];
  /** Marks overdue bound leases expired; returns rows to persist. */
  expireDue?(now: number): readonly LeaseChange[];
}

/** Where lease changes go (store/lease_store.ts's LeaseStore). */
export interface LeaseWriter {
  /** Writes rows in one transaction; returns once they are durable, throws otherwise. */
  writeNow(rows: readonly LeaseChange[]): void;
}

export interface ServerInterface {
  readonly name: string;
  /** Our address on it (u32). */
  readonly serverIp: number;
  readonly subnet: Cidr;
  /** Segment name stored with leases; the interface name by default. */
  readonly segment?: string;
}

export interface DhcpServerOptions {
  readonly interfaces: readonly ServerInterface[];
  readonly responder: DhcpResponder;
  /** Where leases go; without it nothing is persisted (tests of the loop only). */
  readonly store?: LeaseWriter;
  readonly signal?: AbortSignal;
  /** ARP-probe fresh addresses before offering them. */
  readonly probe?: boolean;
  /**
   * Addresses a segment will offer next (e.g. `LeasePool.upcomingFresh`).
   * With `probe`, they are probed in the background every `prefetchMs`, so
   * a DISCOVER usually finds its address already checked in the probe cache.
   */
  readonly upcoming?: (segment: string, count: number) => readonly number[];
  /** How often to probe upcoming addresses (default 10 s; the cache keeps results 60 s). */
  readonly prefetchMs?: number;
  readonly probeTimeoutMs?: number;
  /** Injected clock (unix ms). */
  readonly now?: () => number;
  /** How often overdue leases are marked expired. */
  readonly sweepMs?: number;
  /**
   * Called once per request with its final decision, after the reply (if
   * any) was sent (`sent`) and the changes committed. Must be cheap and must
   * not throw (errors are caught and counted).
   */
  readonly onDecision?: (req: DhcpPacket, d: Decision, sent: boolean, ctx: RequestContext) => void;
  /**
   * Request budget per client MAC (DEFAULT_CLIENT_BUDGET where unset);
   * false turns it off. Requests over it are dropped (`dropped.rateLimited`).
   */
  readonly clientBudget?: Partial<ClientBudgetOptions> | false;
}

export {
  ClientBudget,
  type ClientBudgetOptions,
  DEFAULT_CLIENT_BUDGET,
  ExhaustionNotices,
  knownFirst,
  macKey,
} from "./flood_guard.ts";

/** Counters, all monotonic. */
export interface DhcpServerStats {
  received: number;
  replied: number;
  offers: number;
  acks: number;
  naks: number;
  dropped: {
    /** DecodeError: not a DHCP message we can read. */
    malformed: number;
    /** The responder decided not to answer. */
    ignored: number;
    /** Unexpected failures (encode, commit, send). */
    errors: number;
    /** The kernel refused the reply. */
    sendFailures: number;
    /** Frames on port 67 that were not valid IPv4/UDP. */
    badFrames: number;
    /** Replies held back because their lease changes could not be committed. */
    notDurable: number;
    /** Requests from a MAC over its budget (ClientBudget): dropped before the responder. */
    rateLimited: number;
    /**
     * DISCOVERs unanswered because their pool had no free address (also
     * counted in `ignored`); logged once per pool per minute.
     */
    poolExhausted: number;
  };
  /** Ignore reasons and how often each happened (bounded set). */
  ignoreReasons: Record<string, number>;
  commits: number;
  probes: number;
  conflicts: number;
}

export interface DhcpServerHandle {
  stats(): DhcpServerStats;
  /** Stops all loops and closes the sockets. */
  close(): Promise<void>;
  /** Resolves when all loops have ended. */
  readonly done: Promise<void>;
}

const BROADCAST_TARGET: SendTarget = { kind: "broadcast", port: DHCP_CLIENT_PORT };

/** Maps the responder's RFC 2131 §4.1 destination onto the transport's send target. */
export function sendTarget(req: DhcpPacket, dest: Destination): SendTarget {
  switch (dest.kind) {
    case "relay":
      return { kind: "unicast", ip: dest.ip, port: dest.port };
    case "unicast":
      // The client has an address: the kernel routes and resolves it.
      return { kind: "unicast", ip: dest.ip, port: DHCP_CLIENT_PORT };
    case "broadcast":
      return BROADCAST_TARGET;
    case "link":
      // dest.mac is chaddr's first six bytes (the responder only serves Ethernet).
      return { kind: "link", mac: req.chaddr.subarray(0, 6), ip: dest.ip, port: DHCP_CLIENT_PORT };
  }
}

const MAX_REASONS = 64;
/** Longest time decided requests wait for more to share their commit. */
const GATHER_MS = 1;
/** Replies that commit together at most (a bigger burst is sent at once). */
const GATHER_MAX = 32;
const NO_COPY = { copy: false } as const;
/** A reply's encoding buffer: bigger than any reply we build (a larger one gets its own). */
const SCRATCH_BYTES = 1500;

interface Outgoing {
  readonly req: DhcpPacket;
  readonly d: Decision & { kind: "reply" };
  readonly ctx: RequestContext;
}

/** Per-interface facts the loop builds request contexts from. */
interface Link {
  readonly itf: ServerInterface;
  readonly segment: string;
  readonly broadcastIp: number;
  readonly transport: DhcpTransport;
  readonly probe: ConflictProbe | undefined;
  /** Where replies are encoded, one at a time. */
  readonly scratch: Uint8Array;
}

/** Starts one loop per interface. Throws an Error naming the interface when a socket cannot be opened. */
export function startDhcpServer(opts: DhcpServerOptions): DhcpServerHandle {
  const now = opts.now ?? Date.now;
  const stats: DhcpServerStats = {
    received: 0,
    replied: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    dropped: {
      malformed: 0,
      ignored: 0,
      errors: 0,
      sendFailures: 0,
      badFrames: 0,
      notDurable: 0,
      rateLimited: 0,
      poolExhausted: 0,
    },
    ignoreReasons: {},
    commits: 0,
    probes: 0,
    conflicts: 0,
  };
  const ctl = new AbortController();
  opts.signal?.addEventListener("abort", () => ctl.abort(), { once: true });
  const links: Link[] = [];
  try {
    for (const itf of opts.interfaces) {
      let transport: DhcpTransport;
      let probe: ConflictProbe | undefined;
      try {
        transport = DhcpTransport.open({ ifname: itf.name, serverIp: itf.serverIp });
      } catch (e) {
        throw new Error(`dhcp: cannot open sockets on interface ${itf.name}: ${errText(e)}`, {
          cause: e,
        });
      }
      try {
        if (opts.probe) {
          probe = new ConflictProbe({ ifname: itf.name, timeoutMs: opts.probeTimeoutMs ?? 300 });
        }
      } catch (e) {
        transport.close();
        throw new Error(`dhcp: cannot open the ARP probe on interface ${itf.name}: ${errText(e)}`, {
          cause: e,
        });
      }
      links.push({
        itf,
        segment: itf.segment ?? itf.name,
        broadcastIp: cidrBroadcast(itf.subnet),
        transport,
        probe,
        scratch: new Uint8Array(SCRATCH_BYTES),
      });
    }
  } catch (e) {
    for (const l of links) {
      l.transport.close();
      l.probe?.close();
    }
    throw e;
  }

  const budget = opts.clientBudget === false
    ? undefined
    : new ClientBudget({ ...DEFAULT_CLIENT_BUDGET, ...opts.clientBudget });
  const exhaustion = new ExhaustionNotices();

  function logExhausted(line: ExhaustionLine): void {
    const { pool } = line;
    log.warn("address pool exhausted: requests go unanswered", {
      segment: pool.segment,
      pool: `${formatIpv4(pool.rangeStart)}-${formatIpv4(pool.rangeEnd)}`,
      unanswered: line.unanswered,
      ...(line.sinceMs !== undefined ? { sinceSeconds: Math.round(line.sinceMs / 1000) } : {}),
    });
  }

  function noteExhausted(pool: PoolExhaustion): void {
    stats.dropped.poolExhausted++;
    const line = exhaustion.note(pool, now());
    if (line !== null) logExhausted(line);
  }

  /** Logs the exhaustion counts held back whose minute is over. */
  function reportExhaustion(): void {
    for (const line of exhaustion.due(now())) logExhausted(line);
  }

  function countIgnore(reason: string): void {
    stats.dropped.ignored++;
    // Reasons embed addresses and numbers; count them by their shape. The cap
    // keeps the table small whatever a flood of odd packets makes of it.
    const shape = reason.replace(/\d+/g, "#");
    const key = shape.length > 60 ? shape.slice(0, 60) : shape;
    if (key in stats.ignoreReasons || Object.keys(stats.ignoreReasons).length < MAX_REASONS) {
      stats.ignoreReasons[key] = (stats.ignoreReasons[key] ?? 0) + 1;
    }
  }

  function persist(rows: readonly LeaseChange[]): boolean {
    if (!opts.store || rows.length === 0) return true;
    try {
      opts.store.writeNow(rows);
      stats.commits++;
      return true;
    } catch (e) {
      stats.dropped.errors++;
      log.error("lease commit failed", { error: errText(e), rows: rows.length });
      return false;
    }
  }

  function notify(req: DhcpPacket, d: Decision, sent: boolean, ctx: RequestContext): void {
    if (opts.onDecision === undefined) return;
    try {
      opts.onDecision(req, d, sent, ctx);
    } catch (e) {
      stats.dropped.errors++;
      log.warn("decision hook failed", { error: errText(e) });
    }
  }

  function send(link: Link, o: Outgoing): boolean {
    let ok = false;
    try {
      // Encoded into the link's scratch: the transport hands it to the kernel before returning.
      const payload = encodePacket(o.d.packet, link.scratch);
      ok = link.transport.send(payload, sendTarget(o.req, o.d.destination));
      if (ok) {
        stats.replied++;
        const type = o.d.packet.options.get(Opt.MessageType)?.[0];
        if (type === MessageType.Offer) stats.offers++;
        else if (type === MessageType.Ack) stats.acks++;
        else if (type === MessageType.Nak) stats.naks++;
      } else stats.dropped.sendFailures++;
    } catch (e) {
      stats.dropped.errors++;
      log.warn("send failed", { error: errText(e) });
    }
    notify(o.req, o.d, ok, o.ctx);
    return ok;
  }

  function decode(dg: DhcpDatagram): DhcpPacket | null {
    try {
      // The transport copies every frame out of its receive buffer: no second copy needed.
      return decodePacket(dg.data, NO_COPY);
    } catch (e) {
      stats.dropped.malformed++;
      if (e instanceof DecodeError) {
        if (log.isEnabledFor("debug")) {
          log.debug("malformed request", {
            field: e.field,
            offset: e.offset,
            from: formatIpv4(dg.srcIp),
          });
        }
      } else {
        stats.dropped.errors++;
        log.warn("decode crashed", { error: errText(e) });
      }
      return null;
    }
  }

  function decide(req: DhcpPacket, ctx: RequestContext): Decision | null {
    try {
      const d = opts.responder.respond(req, ctx);
      if (log.isEnabledFor("debug")) {
        log.debug("decision", {
          kind: d.kind,
          reason: d.reason,
          xid: req.xid,
          segment: ctx.segment,
          via: ctx.receivedVia,
          ...(d.kind === "reply" ? { yiaddr: formatIpv4(d.packet.yiaddr) } : {}),
        });
      }
      if (d.kind === "ignore") {
        countIgnore(d.reason);
        if (d.exhausted !== undefined) noteExhausted(d.exhausted);
      }
      return d;
    } catch (e) {
      stats.dropped.errors++;
      log.warn("responder failed", { error: errText(e), xid: req.xid });
      return null;
    }
  }

  /** Offers an address only after ARP showed nobody uses it; on conflict picks another. */
  async function probeThenSend(
    link: Link,
    req: DhcpPacket,
    d: Decision & { kind: "reply"; probe: number },
    ctx: RequestContext,
    attempt: number,
  ): Promise<void> {
    try {
      stats.probes++;
      const inUse = await link.probe!.inUse(d.probe);
      if (ctl.signal.aborted) return;
      if (!inUse) {
        if (persist(d.changes)) send(link, { req, d, ctx });
        else stats.dropped.notDurable++;
        return;
      }
      stats.conflicts++;
      log.info("address in use, offering another", {
        ip: formatIpv4(d.probe),
        iface: link.itf.name,
      });
      const at = now();
      persist(opts.responder.probeFailed?.(ctx.segment, d.probe, at) ?? []);
      // Bounded: after a few conflicts in a row the client's retransmission tries again.
      if (attempt >= 3) return countIgnore("ARP conflicts on consecutive offers");
      const retryCtx = { ...ctx, now: at };
      const next = decide(req, retryCtx);
      if (next === null) return;
      if (next.kind === "reply" && next.probe !== undefined && wantsProbe(link, next.probe)) {
        return probeThenSend(link, req, { ...next, probe: next.probe }, retryCtx, attempt + 1);
      }
      const durable = persist(next.changes);
      if (next.kind !== "reply") return notify(req, next, false, retryCtx);
      if (durable || next.changes.length === 0) send(link, { req, d: next, ctx: retryCtx });
      else stats.dropped.notDurable++;
    } catch (e) {
      stats.dropped.errors++;
      log.warn("probe failed", { error: errText(e) });
    }
  }

  const knows = opts.responder.knows?.bind(opts.responder);
  function knowsSafely(req: DhcpPacket, ctx: RequestContext): boolean {
    try {
      return knows!(req, ctx);
    } catch (e) {
      stats.dropped.errors++;
      log.warn("responder failed", { error: errText(e), xid: req.xid });
      return false;
    }
  }

  /** Only addresses on the ingress link can be probed (relayed subnets are elsewhere). */
  function wantsProbe(link: Link, ip: number): boolean {
    return link.probe !== undefined && cidrContains(link.itf.subnet, ip);
  }

  // Probe the next addresses of each pool before anyone asks for them.
  const probed = links.filter((l) => l.probe !== undefined);
  const ahead = opts.upcoming !== undefined && probed.length > 0
    ? new ProbeAhead({
      segments: probed.map((l) => ({
        segment: l.segment,
        probe: l.probe!,
        covers: (ip: number) => wantsProbe(l, ip),
      })),
      upcoming: opts.upcoming,
      // Someone holds it without a lease from us: never offer it.
      onInUse: (segment, ip) => persist(opts.responder.probeFailed?.(segment, ip, now()) ?? []),
      everyMs: opts.prefetchMs ?? 10_000,
    })
    : undefined;

  async function loop(link: Link): Promise<void> {
    const { transport, itf } = link;
    // Decided requests wait here for the next group commit. Under load more
    // bursts are gathered first (a commit costs tens of microseconds, about
    // as much as several requests), for at most GATHER_MS.
    let out: Outgoing[] = [];
    let rows: LeaseChange[] = [];
    let silent: { req: DhcpPacket; d: Decision; ctx: RequestContext }[] = [];
    let gatheringSince = 0;
    const flush = () => {
      // One commit for everything gathered; a reply leaves only when its lease is durable.
      const durable = persist(rows);
      for (const o of out) {
        if (o.d.changes.length > 0 && !durable) {
          stats.dropped.notDurable++;
          continue;
        }
        send(link, o);
      }
      for (const s of silent) notify(s.req, s.d, false, s.ctx);
      out = [];
      rows = [];
      silent = [];
      reportExhaustion();
    };
    while (!ctl.signal.aborted) {
      let batch: DhcpDatagram[];
      const room = GATHER_MAX - out.length;
      try {
        // At most one commit group at a time: after a stall the backlog is answered in
        // groups (a steady stream like the requests), not one burst a slow client
        // socket cannot absorb.
        batch = await transport.receive(250, room);
      } catch (e) {
        stats.dropped.errors++;
        log.error("receive failed", { error: errText(e), iface: itf.name });
        flush();
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (batch.length === 0) {
        if (rows.length > 0 || out.length > 0 || silent.length > 0) flush();
        else reportExhaustion();
        continue;
      }
      const t = now();
      const base = {
        segment: link.segment,
        serverIp: itf.serverIp,
        ifaceSubnet: itf.subnet,
        now: t,
      };
      const viaBroadcast: RequestContext = { ...base, receivedVia: "broadcast" };
      const viaUnicast: RequestContext = { ...base, receivedVia: "unicast" };
      if (out.length === 0 && rows.length === 0 && silent.length === 0) {
        gatheringSince = performance.now();
      }
      const tick = performance.now();
      let reqs: { req: DhcpPacket; ctx: RequestContext }[] = [];
      for (const dg of batch) {
        stats.received++;
        const req = decode(dg);
        if (req === null) continue;
        // Over its budget: dropped before the responder (which is the costly part).
        if (budget !== undefined && !budget.take(macKey(req.chaddr), tick)) {
          stats.dropped.rateLimited++;
          continue;
        }
        const ctx = dg.dstIp === 0xffffffff || dg.dstIp === link.broadcastIp
          ? viaBroadcast
          : viaUnicast;
        reqs.push({ req, ctx });
      }
      // A burst that fills the group means more are waiting: known clients go first.
      if (batch.length >= room && reqs.length > 1 && knows !== undefined) {
        reqs = knownFirst(reqs, (r) => knowsSafely(r.req, r.ctx));
      }
      for (const { req, ctx } of reqs) {
        const d = decide(req, ctx);
        if (d === null) continue;
        if (d.kind !== "reply") {
          // RELEASE and DECLINE: no reply, but the lease change is persisted.
          for (const c of d.changes) rows.push(c);
          if (opts.onDecision !== undefined) silent.push({ req, d, ctx });
          continue;
        }
        if (d.probe !== undefined && wantsProbe(link, d.probe)) {
          // Keep probing ahead of demand, so the next fresh DISCOVERs need not wait.
          ahead?.noteFreshOffer();
          if (link.probe!.cached(d.probe) !== false) {
            void probeThenSend(link, req, { ...d, probe: d.probe }, ctx, 0);
            continue;
          }
          // Probed ahead of time and free: it is answered with this group.
        }
        for (const c of d.changes) rows.push(c);
        out.push({ req, d, ctx });
      }
      stats.dropped.badFrames = links.reduce((s, l) => s + l.transport.stats.badFrames, 0);
      if (
        !ctl.signal.aborted && out.length < GATHER_MAX &&
        performance.now() - gatheringSince < GATHER_MS && transport.pending()
      ) continue;
      flush();
    }
    flush();
  }

  let sweep: ReturnType<typeof setInterval> | undefined;
  if (opts.responder.expireDue !== undefined) {
    const expireDue = opts.responder.expireDue.bind(opts.responder);
    sweep = setInterval(() => {
      try {
        const rows = expireDue(now());
        if (rows.length > 0 && persist(rows)) log.debug("leases expired", { count: rows.length });
      } catch (e) {
        log.warn("expiry sweep failed", { error: errText(e) });
      }
    }, opts.sweepMs ?? 10_000);
  }

  const done = Promise.all(links.map(loop)).then(() => {});
  for (const l of links) {
    log.info("dhcp server listening", {
      iface: l.itf.name,
      segment: l.segment,
      serverIp: formatIpv4(l.itf.serverIp),
      probe: l.probe !== undefined,
    });
  }

  return {
    stats: () => structuredClone(stats),
    done,
    async close() {
      ctl.abort();
      if (sweep !== undefined) clearInterval(sweep);
      ahead?.close();
      await done;
      for (const l of links) {
        l.transport.close();
        l.probe?.close();
      }
    },
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
