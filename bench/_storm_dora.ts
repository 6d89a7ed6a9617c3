/**
 * @module
 * One DHCP client of bench/storm.ts's nodes from DISCOVER to ACK, on the
 * shared DhcpMux, with the retransmit schedule of the client it plays
 * (firmware, iPXE or udhcpc).
 */
import { MessageType } from "../src/dhcp/mod.ts";
import {
  buildRequest,
  type ClientIdentity,
  type DhcpMux,
  type Flavor,
  type Reply,
  TIMERS,
} from "./_storm_dhcp.ts";

/** One DHCP client run (DISCOVER→OFFER, REQUEST→ACK) with its retransmit schedule. */
export interface DhcpResult {
  readonly ip: number;
  readonly server: number;
  readonly siaddr: number;
  readonly file: string;
  /** Sends beyond the first DISCOVER and first REQUEST. */
  readonly retransmits: number;
  /** ms from the answered send to its reply, per message (OFFER, ACK). */
  readonly offerMs: number;
  readonly ackMs: number;
}

/**
 * Runs DORA for one client; null when the schedule runs out (or `deadline`
 * passes). `onRetransmit` hears of every send beyond the first of each kind,
 * also when the exchange fails in the end.
 */
export async function dora(
  mux: DhcpMux,
  id: ClientIdentity,
  flavor: Flavor,
  deadline: number,
  onRetransmit: () => void = () => {},
): Promise<DhcpResult | null> {
  const timers = TIMERS[flavor];
  const start = performance.now();
  const secs = () => Math.floor((performance.now() - start) / 1000);
  let retransmits = 0;
  // A NAK sends the client back to DISCOVER; at most a few rounds.
  for (let round = 0; round < 3; round++) {
    const xid = (Math.random() * 0x100000000) >>> 0;
    let offer: Reply | null = null;
    let offerMs = 0;
    for (const [i, t] of timers.entries()) {
      if (performance.now() > deadline) return null;
      if (i > 0) {
        retransmits++;
        onRetransmit();
      }
      const sent = performance.now();
      offer = await mux.exchange(
        id.mac,
        xid,
        buildRequest(id, flavor, xid, secs()),
        [MessageType.Offer],
        t,
      );
      if (offer) {
        offerMs = offer.at - sent;
        break;
      }
    }
    if (!offer) return null;
    const want = { yiaddr: offer.yiaddr, server: offer.server };
    for (const [i, t] of timers.entries()) {
      if (performance.now() > deadline) return null;
      if (i > 0) {
        retransmits++;
        onRetransmit();
      }
      const sent = performance.now();
      const ack = await mux.exchange(
        id.mac,
        xid,
        buildRequest(id, flavor, xid, secs(), want),
        [MessageType.Ack, MessageType.Nak],
        t,
      );
      if (ack?.type === MessageType.Ack) {
        return {
          ip: ack.yiaddr,
          server: ack.server,
          siaddr: ack.siaddr || offer.siaddr,
          file: ack.file || offer.file,
          retransmits,
          offerMs,
          ackMs: ack.at - sent,
        };
      }
      if (ack?.type === MessageType.Nak) break;
    }
  }
  return null;
}
