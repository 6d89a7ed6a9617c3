/**
 * @module
 * The batch/commit step of one DHCP link. Requests read in a burst are
 * checked against their MAC's budget, decided (known clients first when the
 * burst filled a whole group), and their lease rows gathered; `flush` writes
 * the gathered rows in one commit and only then sends the replies whose rows
 * are durable. The loop flushes when a group is full, when the reactor is
 * about to sleep (nothing more arrived), or GATHER_MS after the first
 * request of the group, whichever comes first.
 */
import type { DhcpDatagram } from "../net/mod.ts";
import type { Decision, RequestContext } from "./authoritative.ts";
import { type ClientBudget, knownFirst, macKey } from "./flood_guard.ts";
import type { LeaseChange } from "./lease_types.ts";
import type { DhcpPacket } from "./packet.ts";
import { probeThenSend, wantsProbe } from "./probe_path.ts";
import type { ProbeAhead } from "./probe_ahead.ts";
import type { Link } from "./server_links.ts";
import type { Outgoing, ServerShell } from "./server_shell.ts";

/** Longest time decided requests wait for more to share their commit. */
export const GATHER_MS = 1;
/** Replies that commit together at most (a bigger burst is committed in groups). */
export const GATHER_MAX = 32;

/** The gathered group of one link. */
export class GroupCommit {
  #out: Outgoing[] = [];
  #rows: LeaseChange[] = [];
  #silent: { req: DhcpPacket; d: Decision; ctx: RequestContext }[] = [];
  /** When the group's first request was decided (performance.now()); Infinity when empty. */
  startedAt = Infinity;

  constructor(
    readonly shell: ServerShell,
    readonly link: Link,
    readonly budget: ClientBudget | undefined,
    readonly ahead: ProbeAhead | undefined,
    readonly aborted: () => boolean,
  ) {}

  /** Requests that still fit in this group. */
  get room(): number {
    return GATHER_MAX - this.#out.length;
  }

  get empty(): boolean {
    return this.#out.length === 0 && this.#rows.length === 0 && this.#silent.length === 0;
  }

  /** Decides a burst read from the link; `filled`: the burst took all the room there was. */
  take(batch: readonly DhcpDatagram[], filled: boolean): void {
    const { shell, link } = this;
    const { itf } = link;
    const tick = performance.now();
    if (this.empty) this.startedAt = tick;
    const base = { segment: link.segment, serverIp: itf.serverIp, ifaceSubnet: itf.subnet };
    const viaBroadcast: RequestContext = { ...base, now: shell.now(), receivedVia: "broadcast" };
    const viaUnicast: RequestContext = { ...viaBroadcast, receivedVia: "unicast" };
    let reqs: { req: DhcpPacket; ctx: RequestContext }[] = [];
    for (const dg of batch) {
      shell.stats.received++;
      const req = shell.decode(dg);
      if (req === null) continue;
      // Over its budget: dropped before the responder (which is the costly part).
      if (this.budget !== undefined && !this.budget.take(macKey(req.chaddr), tick)) {
        shell.stats.dropped.rateLimited++;
        continue;
      }
      const ctx = dg.dstIp === 0xffffffff || dg.dstIp === link.broadcastIp
        ? viaBroadcast
        : viaUnicast;
      reqs.push({ req, ctx });
    }
    // A burst that fills the group means more are waiting: known clients go first.
    if (filled && reqs.length > 1 && shell.responder.knows !== undefined) {
      reqs = knownFirst(reqs, (r) => shell.knows(r.req, r.ctx));
    }
    for (const { req, ctx } of reqs) this.#decideOne(req, ctx);
  }

  #decideOne(req: DhcpPacket, ctx: RequestContext): void {
    const d = this.shell.decide(req, ctx);
    if (d === null) return;
    if (d.kind !== "reply") {
      // RELEASE and DECLINE: no reply, but the lease change is persisted.
      for (const c of d.changes) this.#rows.push(c);
      if (this.shell.onDecision !== undefined) this.#silent.push({ req, d, ctx });
      return;
    }
    if (d.probe !== undefined && wantsProbe(this.link, d.probe)) {
      // Keep probing ahead of demand, so the next fresh DISCOVERs need not wait.
      this.ahead?.noteFreshOffer();
      if (this.link.probe!.cached(d.probe) !== false) {
        const probed = { ...d, probe: d.probe };
        void probeThenSend(this.shell, this.link, req, probed, ctx, this.aborted);
        return;
      }
      // Probed ahead of time and free: it is answered with this group.
    }
    for (const c of d.changes) this.#rows.push(c);
    this.#out.push({ req, d, ctx });
  }

  /** One commit for everything gathered; a reply leaves only when its lease is durable. */
  flush(): void {
    const { shell, link } = this;
    const out = this.#out;
    const silent = this.#silent;
    const durable = shell.persist(this.#rows);
    this.#out = [];
    this.#rows = [];
    this.#silent = [];
    this.startedAt = Infinity;
    for (const o of out) {
      if (o.d.changes.length > 0 && !durable) {
        shell.stats.dropped.notDurable++;
        continue;
      }
      shell.send(link, o);
    }
    for (const s of silent) shell.notify(s.req, s.d, false, s.ctx);
    shell.reportExhaustion();
  }
}
