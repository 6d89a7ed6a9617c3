/**
 * @module
 * The DHCP server (I/O shell). Each interface's raw socket is registered in
 * the process's reactor (src/net): when requests are queued they are read in
 * a burst → decoded → decided by the pure responder (authoritative.ts) →
 * gathered into a group whose lease rows are written in one commit → sent,
 * each reply only once its rows are durable (group_commit.ts). The steps are
 * guarded one by one (server_shell.ts), so no packet can stop the server.
 *
 * Under a flood: every client MAC (chaddr) has a request budget (a token
 * bucket, ClientBudget), so one MAC hammering the server costs a decode per
 * packet and no more; when a burst fills a whole group, requests of known
 * clients (a lease or a reservation) are decided and answered first; and a
 * pool with no free address says so in one warning per pool per minute
 * (ExhaustionNotices) instead of going silent.
 */
import { getLogger } from "@logtape/logtape";
import { Reactor, type Registration } from "../net/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import type { Decision, RequestContext } from "./authoritative.ts";
import { ClientBudget, type ClientBudgetOptions, DEFAULT_CLIENT_BUDGET } from "./flood_guard.ts";
import { GATHER_MS, GroupCommit } from "./group_commit.ts";
import { ProbeAhead } from "./probe_ahead.ts";
import { wantsProbe } from "./probe_path.ts";
import { closeLink, errText, type Link, openLinks, type ServerInterface } from "./server_links.ts";
import { type DhcpResponder, type LeaseWriter, ServerShell } from "./server_shell.ts";
import { type DhcpServerStats, newStats } from "./server_stats.ts";
import type { DhcpPacket } from "./packet.ts";

const log = getLogger(["mesh", "dhcp"]);

export type { DhcpResponder, LeaseWriter } from "./server_shell.ts";
export { sendTarget } from "./server_shell.ts";
export type { ServerInterface } from "./server_links.ts";
export type { DhcpServerStats } from "./server_stats.ts";
export {
  ClientBudget,
  type ClientBudgetOptions,
  DEFAULT_CLIENT_BUDGET,
  ExhaustionNotices,
  knownFirst,
  macKey,
} from "./flood_guard.ts";

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
  /** The reactor the sockets wait in (the process's by default). */
  readonly reactor?: Reactor;
}

export interface DhcpServerHandle {
  stats(): DhcpServerStats;
  /** Stops serving and closes the sockets. */
  close(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly done: Promise<void>;
}

/** How long a link whose socket failed rests before it is read again. */
const FAILED_PAUSE_MS = 100;

/** One served link in the reactor. */
interface Served {
  readonly link: Link;
  readonly group: GroupCommit;
  readonly reg: Registration;
  readonly unhook: () => void;
  pauseTimer?: ReturnType<typeof setTimeout>;
}

/** Starts serving every interface. Throws an Error naming the interface when a socket cannot be opened. */
export function startDhcpServer(opts: DhcpServerOptions): DhcpServerHandle {
  const now = opts.now ?? Date.now;
  const stats = newStats();
  const reactor = opts.reactor ?? Reactor.shared();
  const links = openLinks(opts.interfaces, opts);
  const shell = new ServerShell(stats, opts.responder, opts.store, opts.onDecision, now);
  const budget = opts.clientBudget === false
    ? undefined
    : new ClientBudget({ ...DEFAULT_CLIENT_BUDGET, ...opts.clientBudget });
  let stopped = false;
  const aborted = () => stopped;
  const ahead = startProbeAhead(opts, links, shell);

  const served: Served[] = [];
  try {
    for (const link of links) served.push(serve(link));
  } catch (e) {
    for (const s of served) s.reg.release();
    for (const l of links) closeLink(l);
    ahead?.close();
    throw e;
  }

  function serve(link: Link): Served {
    const group = new GroupCommit(shell, link, budget, ahead, aborted);
    const s: Served = {
      link,
      group,
      reg: reactor.add(link.transport, {
        ready: () => read(s),
        timeout: () => {
          if (!group.empty) group.flush();
        },
      }),
      // Nothing more arrived: what was gathered is committed and answered now.
      unhook: reactor.onIdle(() => {
        if (group.empty) return false;
        group.flush();
        s.reg.deadline = Infinity;
        return true;
      }),
    };
    return s;
  }

  function read(s: Served): void {
    const { group, link } = s;
    try {
      // One group per readiness event: the socket stays ready (level-triggered)
      // while more requests wait, so the other sockets get their turns between groups.
      const room = group.room;
      const batch = link.transport.drain(room);
      if (batch.length > 0) {
        group.take(batch, batch.length >= room);
        if (group.room <= 0) group.flush();
      }
    } catch (e) {
      // The socket failed (the interface went away?): answer what was decided, rest a while.
      stats.dropped.errors++;
      log.error("receive failed", { error: errText(e), iface: link.itf.name });
      if (!group.empty) group.flush();
      s.reg.paused = true;
      s.pauseTimer = setTimeout(() => {
        s.pauseTimer = undefined;
        if (!stopped) s.reg.paused = false;
      }, FAILED_PAUSE_MS);
    }
    stats.dropped.badFrames = links.reduce((n, l) => n + l.transport.stats.badFrames, 0);
    if (!group.empty && s.reg.deadline === Infinity) s.reg.deadline = group.startedAt + GATHER_MS;
  }

  let sweep: ReturnType<typeof setInterval> | undefined;
  if (opts.responder.expireDue !== undefined) {
    const expireDue = opts.responder.expireDue.bind(opts.responder);
    sweep = setInterval(() => {
      try {
        const rows = expireDue(now());
        if (rows.length > 0 && shell.persist(rows)) {
          log.debug("leases expired", { count: rows.length });
        }
      } catch (e) {
        log.warn("expiry sweep failed", { error: errText(e) });
      }
    }, opts.sweepMs ?? 10_000);
  }

  let finish: () => void = () => {};
  const done = new Promise<void>((r) => finish = r);
  function stop(): void {
    if (stopped) return;
    stopped = true;
    if (sweep !== undefined) clearInterval(sweep);
    ahead?.close();
    for (const s of served) {
      s.unhook();
      if (s.pauseTimer !== undefined) clearTimeout(s.pauseTimer);
      // Decided requests are still answered: their commit is one step away.
      if (!s.group.empty) s.group.flush();
      s.reg.close();
    }
    shell.cancelRetries();
    for (const l of links) closeLink(l);
    finish();
  }
  if (opts.signal?.aborted) stop();
  else opts.signal?.addEventListener("abort", stop, { once: true });

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
    close() {
      stop();
      return done;
    },
  };
}

/** Probes the next addresses of each pool before anyone asks for them. */
function startProbeAhead(
  opts: DhcpServerOptions,
  links: readonly Link[],
  shell: ServerShell,
): ProbeAhead | undefined {
  const probed = links.filter((l) => l.probe !== undefined);
  if (opts.upcoming === undefined || probed.length === 0) return undefined;
  return new ProbeAhead({
    segments: probed.map((l) => ({
      segment: l.segment,
      probe: l.probe!,
      covers: (ip: number) => wantsProbe(l, ip),
    })),
    upcoming: opts.upcoming,
    // Someone holds it without a lease from us: never offer it.
    onInUse: (segment, ip) =>
      shell.persist(opts.responder.probeFailed?.(segment, ip, shell.now()) ?? []),
    everyMs: opts.prefetchMs ?? 10_000,
  });
}
