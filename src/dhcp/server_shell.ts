/**
 * @module
 * The steps every request goes through in the DHCP server, each guarded so
 * that no packet can stop the loop: decode (a DecodeError is counted and
 * logged at debug), decide (the pure responder), persist (one commit of
 * lease rows), send (to the RFC 2131 §4.1 destination the responder chose)
 * and notify (the decision hook). Counting and throttled logging live here
 * too; the loop in server.ts decides when each step runs.
 */
import { getLogger } from "@logtape/logtape";
import { DecodeError } from "../errors.ts";
import { LogThrottle } from "../log.ts";
import type { DhcpDatagram, SendTarget } from "../net/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import type { Decision, PoolExhaustion, RequestContext } from "./authoritative.ts";
import { DHCP_CLIENT_PORT, Opt } from "./constants.ts";
import type { Destination } from "./destination.ts";
import { type ExhaustionLine, ExhaustionNotices } from "./flood_guard.ts";
import type { LeaseChange } from "./lease_types.ts";
import { errText, type Link } from "./server_links.ts";
import { countDecision, countIgnore, countReply, type DhcpServerStats } from "./server_stats.ts";
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
  /** Rows it decided were committed: it may change its memory now. */
  apply?(rows: readonly LeaseChange[]): void;
  /** Rows it decided could not be committed: it forgets them. */
  discard?(rows: readonly LeaseChange[]): void;
}

/** Where lease changes go (store/lease_store.ts's LeaseStore). */
export interface LeaseWriter {
  /** Writes rows in one transaction; returns once they are durable, throws otherwise. */
  writeNow(rows: readonly LeaseChange[]): void;
}

/** A decided request whose reply waits for its commit. */
export interface Outgoing {
  readonly req: DhcpPacket;
  readonly d: Decision & { kind: "reply" };
  readonly ctx: RequestContext;
}

export type DecisionHook = (
  req: DhcpPacket,
  d: Decision,
  sent: boolean,
  ctx: RequestContext,
) => void;

const BROADCAST_TARGET: SendTarget = { kind: "broadcast", port: DHCP_CLIENT_PORT };
const NO_COPY = { copy: false } as const;
/** At most one "send failed" line per this long, with the count since the last. */
const SEND_LOG_EVERY_MS = 10_000;
/**
 * Delays before a reply the kernel refused for a full queue is tried again.
 * The transport already retried at once; a queue filled by bulk downloads
 * drains at link rate within milliseconds, while a lost reply costs the
 * client a retransmission 2-4 s later.
 */
const LATER_RETRY_MS = [2, 10, 50, 250] as const;
/** Replies waiting for a later retry at most (each holds a copy of its payload). */
const MAX_LATER = 1024;

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

/** The guarded steps, with the server's counters. */
export class ServerShell {
  readonly #exhaustion = new ExhaustionNotices();
  readonly #sendLog = new LogThrottle(SEND_LOG_EVERY_MS, () => performance.now());

  constructor(
    readonly stats: DhcpServerStats,
    readonly responder: DhcpResponder,
    readonly store: LeaseWriter | undefined,
    readonly onDecision: DecisionHook | undefined,
    readonly now: () => number,
  ) {}

  /**
   * Writes rows in one commit, then lets the responder apply them to its
   * memory; after a failed commit (counted, logged; false) it forgets them
   * instead, so memory and database agree either way.
   */
  persist(rows: readonly LeaseChange[]): boolean {
    if (rows.length === 0) return true;
    let durable = true;
    if (this.store) {
      try {
        this.store.writeNow(rows);
        this.stats.commits++;
      } catch (e) {
        durable = false;
        this.stats.dropped.errors++;
        log.error("lease commit failed", { error: errText(e), rows: rows.length });
      }
    }
    try {
      if (durable) this.responder.apply?.(rows);
      else this.responder.discard?.(rows);
    } catch (e) {
      this.stats.dropped.errors++;
      log.warn("responder failed", { error: errText(e) });
    }
    return durable;
  }

  notify(req: DhcpPacket, d: Decision, sent: boolean, ctx: RequestContext): void {
    if (this.onDecision === undefined) return;
    try {
      this.onDecision(req, d, sent, ctx);
    } catch (e) {
      this.stats.dropped.errors++;
      log.warn("decision hook failed", { error: errText(e) });
    }
  }

  /**
   * Encodes and sends one reply, then tells the hook. A reply the kernel
   * refused because its queue was full is tried again a few times over the
   * next quarter second (false here; the hook hears the final outcome).
   */
  send(link: Link, o: Outgoing): boolean {
    let ok = false;
    try {
      // Encoded into the link's scratch: the transport hands it to the kernel before returning.
      const payload = encodePacket(o.d.packet, link.scratch);
      const target = sendTarget(o.req, o.d.destination);
      ok = this.#sendNow(link, payload, target);
      if (!ok && link.transport.queueFull && this.#later < MAX_LATER) {
        this.#later++;
        this.#retryLater(link, o, payload.slice(), target, 0);
        return false;
      }
      this.#sent(link, o, ok);
    } catch (e) {
      this.stats.dropped.errors++;
      log.warn("send failed", { error: errText(e) });
      this.notify(o.req, o.d, false, o.ctx);
    }
    return ok;
  }

  /** Replies now waiting for a later retry. */
  get waitingRetry(): number {
    return this.#later;
  }

  /** At stop: the replies still waiting are dropped (their links are closing). */
  cancelRetries(): void {
    for (const t of this.#laterTimers) clearTimeout(t);
    this.#laterTimers.clear();
    this.#later = 0;
  }

  #later = 0;
  readonly #laterTimers = new Set<ReturnType<typeof setTimeout>>();

  #sendNow(link: Link, payload: Uint8Array, target: SendTarget): boolean {
    const retriesBefore = link.transport.stats.sendRetries;
    const ok = link.transport.send(payload, target);
    this.stats.sendRetries += link.transport.stats.sendRetries - retriesBefore;
    return ok;
  }

  #retryLater(link: Link, o: Outgoing, payload: Uint8Array, target: SendTarget, i: number): void {
    const timer = setTimeout(() => {
      this.#laterTimers.delete(timer);
      let ok = false;
      try {
        this.stats.sendRetries++;
        ok = this.#sendNow(link, payload, target);
      } catch (e) {
        // the link went away meanwhile
        this.stats.dropped.errors++;
        log.warn("send failed", { error: errText(e) });
      }
      if (!ok && link.transport.queueFull && i + 1 < LATER_RETRY_MS.length) {
        this.#retryLater(link, o, payload, target, i + 1);
        return;
      }
      this.#later--;
      this.#sent(link, o, ok);
    }, LATER_RETRY_MS[i]);
    this.#laterTimers.add(timer);
  }

  /** Counts the outcome, logs a refusal, tells the hook. */
  #sent(link: Link, o: Outgoing, ok: boolean): void {
    if (ok) countReply(this.stats, o.d.packet.options.get(Opt.MessageType)?.[0]);
    else {
      this.stats.dropped.sendFailures++;
      this.#logSendFailure(link, link.transport.lastSendErrno);
    }
    this.notify(o.req, o.d, ok, o.ctx);
  }

  /** One line per interface per SEND_LOG_EVERY_MS at most, with how many were held back. */
  #logSendFailure(link: Link, errno: number): void {
    const { log: now, suppressed } = this.#sendLog.take(link.itf.name);
    if (!now) return;
    log.warn("reply refused by the kernel", { iface: link.itf.name, errno, suppressed });
  }

  decode(dg: DhcpDatagram): DhcpPacket | null {
    try {
      // The transport copies every frame out of its receive buffer: no second copy needed.
      return decodePacket(dg.data, NO_COPY);
    } catch (e) {
      this.stats.dropped.malformed++;
      if (e instanceof DecodeError) {
        if (log.isEnabledFor("debug")) {
          log.debug("malformed request", {
            field: e.field,
            offset: e.offset,
            from: formatIpv4(dg.srcIp),
          });
        }
      } else {
        this.stats.dropped.errors++;
        log.warn("decode crashed", { error: errText(e) });
      }
      return null;
    }
  }

  decide(req: DhcpPacket, ctx: RequestContext): Decision | null {
    try {
      const d = this.responder.respond(req, ctx);
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
      countDecision(
        this.stats,
        req.options.get(Opt.MessageType)?.[0],
        d.kind === "ignore" ? "ignore" : "reply",
      );
      if (d.kind === "ignore") {
        this.ignore(d.reason);
        if (d.exhausted !== undefined) this.#noteExhausted(d.exhausted);
      }
      return d;
    } catch (e) {
      this.stats.dropped.errors++;
      log.warn("responder failed", { error: errText(e), xid: req.xid });
      return null;
    }
  }

  /** Whether the responder knows the client (false when it fails: counted, logged). */
  knows(req: DhcpPacket, ctx: RequestContext): boolean {
    try {
      return this.responder.knows?.(req, ctx) ?? false;
    } catch (e) {
      this.stats.dropped.errors++;
      log.warn("responder failed", { error: errText(e), xid: req.xid });
      return false;
    }
  }

  ignore(reason: string): void {
    countIgnore(this.stats, reason);
  }

  #noteExhausted(pool: PoolExhaustion): void {
    this.stats.dropped.poolExhausted++;
    const line = this.#exhaustion.note(pool, this.now());
    if (line !== null) logExhausted(line);
  }

  /** Logs the exhaustion counts held back whose minute is over. */
  reportExhaustion(): void {
    for (const line of this.#exhaustion.due(this.now())) logExhausted(line);
  }
}

function logExhausted(line: ExhaustionLine): void {
  const { pool } = line;
  log.warn("address pool exhausted: requests go unanswered", {
    segment: pool.segment,
    pool: `${formatIpv4(pool.rangeStart)}-${formatIpv4(pool.rangeEnd)}`,
    unanswered: line.unanswered,
    ...(line.sinceMs !== undefined ? { sinceSeconds: Math.round(line.sinceMs / 1000) } : {}),
  });
}
