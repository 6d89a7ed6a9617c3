/**
 * @module
 * The DHCP server loop (I/O shell). Per interface: receive a burst of
 * requests → decode (a DecodeError is counted and logged at debug) → ask the
 * pure responder → persist the lease changes of the whole burst in one
 * commit → send the replies whose changes are durable. No packet can stop the
 * loop: every step of every packet is guarded.
 */
import { getLogger } from "@logtape/logtape";
import { DecodeError } from "../errors.ts";
import {
  type Cidr,
  type DhcpDatagram,
  DhcpTransport,
  formatIpv4,
  type SendTarget,
} from "../net/mod.ts";
import type { LeaseRow, LeaseStore } from "../store/lease_store.ts";
import { ConflictProbe } from "./conflict_probe.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, MessageType, Opt } from "./constants.ts";
import { decodePacket, type DhcpPacket, encodePacket, wantsBroadcast } from "./packet.ts";

const log = getLogger(["mesh", "dhcp"]);

/** What the loop knows about where a request came from. */
export interface RequestContext {
  readonly ifname: string;
  readonly segment: string;
  /** Our address on the ingress interface (u32). */
  readonly serverIp: number;
  readonly subnet: Cidr;
  /** Unix ms. */
  readonly now: number;
}

/** A responder's answer to one request. */
export interface DhcpDecision {
  readonly kind: "reply" | "ignore";
  /** Why: shown in debug logs and counted for ignores. */
  readonly reason: string;
  readonly reply?: DhcpPacket;
  /** Rows that must be durable before `reply` leaves. */
  readonly changes?: readonly LeaseRow[];
  /** Probe this address with ARP before sending (an OFFER of an address never seen in use). */
  readonly probe?: number;
}

/** The pure decision maker the loop drives (authoritative or proxy). */
export interface DhcpResponder {
  respond(req: DhcpPacket, ctx: RequestContext): DhcpDecision;
  /** ARP showed `ip` in use by someone else: quarantine it; returns rows to persist. */
  conflict?(ip: number, ctx: RequestContext): readonly LeaseRow[];
  /** The expiry sweep marked these rows expired in the database. */
  expired?(rows: readonly LeaseRow[]): void;
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
  readonly store?: LeaseStore;
  readonly signal?: AbortSignal;
  /** ARP-probe fresh addresses before offering them. */
  readonly probe?: boolean;
  readonly probeTimeoutMs?: number;
  /** Injected clock (unix ms). */
  readonly now?: () => number;
  /** How often expired leases are swept. */
  readonly sweepMs?: number;
}

/** Counters, all monotonic. */
export interface DhcpServerStats {
  received: number;
  replied: number;
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

/**
 * Where a reply goes (RFC 2131 §4.1): to the relay when giaddr is set; to
 * ciaddr when the client has an address; NAKs and broadcast-flagged requests
 * to everyone; otherwise straight to chaddr at yiaddr.
 */
export function replyTarget(req: DhcpPacket, reply: DhcpPacket): SendTarget {
  if (req.giaddr !== 0) return { kind: "unicast", ip: req.giaddr, port: DHCP_SERVER_PORT };
  const type = reply.options.get(Opt.MessageType)?.[0];
  if (type === MessageType.Nak) return { kind: "broadcast", port: DHCP_CLIENT_PORT };
  if (req.ciaddr !== 0) return { kind: "unicast", ip: req.ciaddr, port: DHCP_CLIENT_PORT };
  if (wantsBroadcast(req) || reply.yiaddr === 0 || req.hlen !== 6) {
    return { kind: "broadcast", port: DHCP_CLIENT_PORT };
  }
  return { kind: "link", mac: req.chaddr.subarray(0, 6), ip: reply.yiaddr, port: DHCP_CLIENT_PORT };
}

const MAX_REASONS = 64;

interface Outgoing {
  readonly req: DhcpPacket;
  readonly reply: DhcpPacket;
  readonly changes: readonly LeaseRow[];
}

/** Starts one loop per interface. Throws when a socket cannot be opened. */
export function startDhcpServer(opts: DhcpServerOptions): DhcpServerHandle {
  const now = opts.now ?? Date.now;
  const stats: DhcpServerStats = {
    received: 0,
    replied: 0,
    dropped: { malformed: 0, ignored: 0, errors: 0, sendFailures: 0, badFrames: 0 },
    ignoreReasons: {},
    commits: 0,
    probes: 0,
    conflicts: 0,
  };
  const ctl = new AbortController();
  opts.signal?.addEventListener("abort", () => ctl.abort(), { once: true });
  const transports: DhcpTransport[] = [];
  const probes: ConflictProbe[] = [];
  try {
    for (const itf of opts.interfaces) {
      transports.push(DhcpTransport.open({ ifname: itf.name, serverIp: itf.serverIp }));
      if (opts.probe) {
        probes.push(new ConflictProbe({ ifname: itf.name, timeoutMs: opts.probeTimeoutMs ?? 300 }));
      }
    }
  } catch (e) {
    for (const t of transports) t.close();
    for (const p of probes) p.close();
    throw e;
  }

  function countIgnore(reason: string): void {
    stats.dropped.ignored++;
    // Reasons are short fixed phrases; the cap protects against one that embeds data.
    const key = reason.length > 60 ? reason.slice(0, 60) : reason;
    if (key in stats.ignoreReasons || Object.keys(stats.ignoreReasons).length < MAX_REASONS) {
      stats.ignoreReasons[key] = (stats.ignoreReasons[key] ?? 0) + 1;
    }
  }

  function persist(rows: readonly LeaseRow[]): boolean {
    if (!opts.store || rows.length === 0) return true;
    try {
      opts.store.writeNow(rows);
      stats.commits++;
      return true;
    } catch (e) {
      stats.dropped.errors++;
      log.error("lease commit failed", { error: String(e), rows: rows.length });
      return false;
    }
  }

  function send(t: DhcpTransport, o: Outgoing): void {
    try {
      const ok = t.send(encodePacket(o.reply), replyTarget(o.req, o.reply));
      if (ok) stats.replied++;
      else stats.dropped.sendFailures++;
    } catch (e) {
      stats.dropped.errors++;
      log.warn("send failed", { error: String(e) });
    }
  }

  /** Runs the responder for one datagram; returns what to send, if anything. */
  function decide(
    dg: DhcpDatagram,
    ctx: RequestContext,
  ): { req: DhcpPacket; d: DhcpDecision } | null {
    let req: DhcpPacket;
    try {
      req = decodePacket(dg.data);
    } catch (e) {
      stats.dropped.malformed++;
      if (e instanceof DecodeError) {
        log.debug("malformed request", {
          field: e.field,
          offset: e.offset,
          from: formatIpv4(dg.srcIp),
        });
      } else {
        stats.dropped.errors++;
        log.warn("decode crashed", { error: String(e) });
      }
      return null;
    }
    try {
      const d = opts.responder.respond(req, ctx);
      log.debug("decision", {
        kind: d.kind,
        reason: d.reason,
        xid: req.xid,
        iface: ctx.ifname,
        yiaddr: d.reply ? formatIpv4(d.reply.yiaddr) : undefined,
      });
      if (d.kind === "ignore" || !d.reply) countIgnore(d.reason);
      return { req, d };
    } catch (e) {
      stats.dropped.errors++;
      log.warn("responder failed", { error: String(e), xid: req.xid });
      return null;
    }
  }

  async function probeThenSend(
    t: DhcpTransport,
    probe: ConflictProbe,
    req: DhcpPacket,
    d: DhcpDecision,
    ctx: RequestContext,
    attempt: number,
  ): Promise<void> {
    try {
      stats.probes++;
      const inUse = await probe.inUse(d.probe!);
      if (!inUse) {
        if (persist(d.changes ?? [])) send(t, { req, reply: d.reply!, changes: d.changes ?? [] });
        return;
      }
      stats.conflicts++;
      log.info("address in use, skipping", { ip: formatIpv4(d.probe!), iface: ctx.ifname });
      persist(opts.responder.conflict?.(d.probe!, ctx) ?? []);
      if (attempt >= 3) return; // the client retries; do not probe forever
      const next = opts.responder.respond(req, { ...ctx, now: now() });
      if (next.kind !== "reply" || !next.reply) return countIgnore(next.reason);
      if (next.probe !== undefined) return probeThenSend(t, probe, req, next, ctx, attempt + 1);
      if (persist(next.changes ?? [])) {
        send(t, { req, reply: next.reply, changes: next.changes ?? [] });
      }
    } catch (e) {
      stats.dropped.errors++;
      log.warn("probe failed", { error: String(e) });
    }
  }

  async function loop(
    t: DhcpTransport,
    itf: ServerInterface,
    probe: ConflictProbe | undefined,
  ): Promise<void> {
    const segment = itf.segment ?? itf.name;
    while (!ctl.signal.aborted) {
      let batch: DhcpDatagram[];
      try {
        batch = await t.receive(250);
      } catch (e) {
        stats.dropped.errors++;
        log.error("receive failed", { error: String(e), iface: itf.name });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (batch.length === 0) continue;
      const ctx: RequestContext = {
        ifname: itf.name,
        segment,
        serverIp: itf.serverIp,
        subnet: itf.subnet,
        now: now(),
      };
      const out: Outgoing[] = [];
      const rows: LeaseRow[] = [];
      for (const dg of batch) {
        stats.received++;
        const r = decide(dg, ctx);
        if (!r) continue;
        if (r.d.kind !== "reply" || !r.d.reply) {
          // RELEASE and DECLINE: no reply, but the lease change is persisted.
          if (r.d.changes) rows.push(...r.d.changes);
          continue;
        }
        if (probe && r.d.probe !== undefined) {
          void probeThenSend(t, probe, r.req, r.d, ctx, 0);
          continue;
        }
        const changes = r.d.changes ?? [];
        rows.push(...changes);
        out.push({ req: r.req, reply: r.d.reply!, changes });
      }
      // One commit for the whole burst; a reply leaves only when its lease is durable.
      const durable = persist(rows);
      for (const o of out) {
        if (o.changes.length > 0 && !durable) continue;
        send(t, o);
      }
      stats.dropped.badFrames = transports.reduce((s, x) => s + x.stats.badFrames, 0);
    }
  }

  let sweep: ReturnType<typeof setInterval> | undefined;
  if (opts.store) {
    const store = opts.store;
    sweep = setInterval(() => {
      try {
        const rows = store.expireBound(now());
        if (rows.length > 0) {
          opts.responder.expired?.(rows);
          log.debug("leases expired", { count: rows.length });
        }
      } catch (e) {
        log.warn("expiry sweep failed", { error: String(e) });
      }
    }, opts.sweepMs ?? 10_000);
  }

  const done = Promise.all(
    opts.interfaces.map((itf, i) => loop(transports[i]!, itf, probes[i])),
  ).then(() => {});
  for (const itf of opts.interfaces) {
    log.info("dhcp server listening", {
      iface: itf.name,
      serverIp: formatIpv4(itf.serverIp),
      probe: !!opts.probe,
    });
  }

  return {
    stats: () => structuredClone(stats),
    done,
    async close() {
      ctl.abort();
      if (sweep !== undefined) clearInterval(sweep);
      await done;
      for (const t of transports) t.close();
      for (const p of probes) p.close();
    },
  };
}
