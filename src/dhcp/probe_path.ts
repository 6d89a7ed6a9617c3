/**
 * @module
 * The probe path of the DHCP server: an OFFER of an address never seen in
 * use leaves only after an ARP probe found nobody answering for it. On a
 * conflict the address is quarantined and the request decided again, a few
 * times at most (then the client's retransmission tries again).
 */
import { getLogger } from "@logtape/logtape";
import { cidrContains, formatIpv4 } from "../wire/mod.ts";
import type { Decision, RequestContext } from "./authoritative.ts";
import { errText, type Link } from "./server_links.ts";
import type { ServerShell } from "./server_shell.ts";
import type { DhcpPacket } from "./packet.ts";

const log = getLogger(["mesh", "dhcp"]);

/** New offers after conflicts for one request; then it is left to the client's retransmission. */
const MAX_RETRIES = 3;

/** Only addresses on the ingress link can be probed (relayed subnets are elsewhere). */
export function wantsProbe(link: Link, ip: number): boolean {
  return link.probe !== undefined && cidrContains(link.itf.subnet, ip);
}

/** Offers `d.probe` after ARP showed nobody uses it; on conflict picks another. */
export async function probeThenSend(
  shell: ServerShell,
  link: Link,
  req: DhcpPacket,
  d: Decision & { kind: "reply"; probe: number },
  ctx: RequestContext,
  aborted: () => boolean,
  attempt = 0,
): Promise<void> {
  try {
    shell.stats.probes++;
    const inUse = await link.probe!.inUse(d.probe);
    if (aborted()) return;
    if (!inUse) {
      if (shell.persist(d.changes)) shell.send(link, { req, d, ctx });
      else shell.stats.dropped.notDurable++;
      return;
    }
    shell.stats.conflicts++;
    log.info("address in use, offering another", {
      ip: formatIpv4(d.probe),
      iface: link.itf.name,
    });
    const at = shell.now();
    shell.persist(shell.responder.probeFailed?.(ctx.segment, d.probe, at) ?? []);
    if (attempt >= MAX_RETRIES) return shell.ignore("ARP conflicts on consecutive offers");
    const retryCtx = { ...ctx, now: at };
    const next = shell.decide(req, retryCtx);
    if (next === null) return;
    if (next.kind === "reply" && next.probe !== undefined && wantsProbe(link, next.probe)) {
      const again = { ...next, probe: next.probe };
      return probeThenSend(shell, link, req, again, retryCtx, aborted, attempt + 1);
    }
    const durable = shell.persist(next.changes);
    if (next.kind !== "reply") return shell.notify(req, next, false, retryCtx);
    if (durable || next.changes.length === 0) shell.send(link, { req, d: next, ctx: retryCtx });
    else shell.stats.dropped.notDurable++;
  } catch (e) {
    shell.stats.dropped.errors++;
    log.warn("probe failed", { error: errText(e) });
  }
}
