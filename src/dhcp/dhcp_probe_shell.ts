/**
 * @module
 * The existing-DHCP probe's I/O shell: one raw socket on the interface,
 * waiting in the shared reactor, that broadcasts the probe DISCOVER
 * `attempts` times spread over `spanMs` and collects the offers. What a
 * packet means is readOffer's decision (dhcp_probe.ts); this file only sends,
 * reads, counts and keeps time. Bounded by construction: it lasts `spanMs`
 * whatever arrives (the reactor deadline drives the schedule, not the
 * traffic), and a flood costs only the frames read (at most DRAIN_BURST per
 * turn, so the deadline still fires on time).
 *
 * Raw frames, not a UDP socket on port 68: the probe must speak from 0.0.0.0
 * with a MAC that is not the interface's, and must not collide with a DHCP
 * client (or mesh's own server) already bound on the host.
 */
import { NotFoundError } from "../errors.ts";
import {
  bpfUdpDstPort,
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  listInterfaces,
  RawSocket,
  Reactor,
  type Registration,
} from "../net/mod.ts";
import { formatMac, macToBytes, parseMac } from "../wire/mod.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from "./constants.ts";
import {
  probeDiscover,
  type ProbeIgnoreReason,
  probeMac,
  type ProbeOffer,
  type ProbeSummary,
  readOfferBytes,
  summarize,
} from "./dhcp_probe.ts";
import { encodePacket } from "./packet.ts";

export const PROBE_DEFAULTS = {
  attempts: 3,
  /**
   * Long enough for servers that ping an address before offering it to a new
   * client: dnsmasq blocks for 3 s (PING_WAIT) on the first DISCOVER and then
   * answers every queued one; ISC dhcpd waits 1 s. A repeated probe is answered
   * at once (dnsmasq remembers the ping for 30 s, and the probe MAC, hence
   * the address, is the same).
   */
  spanMs: 6000,
  /** Offers kept; more are counted (a flood of forged offers echoing our xid). */
  maxOffers: 256,
} as const;

export interface ProbeOptions {
  readonly ifname: string;
  /** DISCOVERs sent, at 0, span/attempts, 2·span/attempts, … (default 3). */
  readonly attempts?: number;
  /** How long the probe listens in total, in ms (default 6000). */
  readonly spanMs?: number;
  /** Offers from these MACs are mesh's own server on the segment: skipped, counted. */
  readonly ownMacs?: readonly string[];
  /** Ends the probe early, with what was heard. */
  readonly signal?: AbortSignal;
  readonly reactor?: Reactor;
}

/** Frame-level reasons the shell adds to readOffer's. */
export type ProbeShellIgnore =
  | ProbeIgnoreReason
  | "bad-frame"
  | "not-udp"
  | "wrong-port"
  | "not-for-us"
  | "own-server"
  | "offer-limit";

export interface ProbeResult {
  readonly interface: string;
  readonly probeMac: string;
  /** The transaction id of every DISCOVER (retransmissions keep it, RFC 2131 §4.1). */
  readonly xid: number;
  readonly discoversSent: number;
  /** Every acceptable offer in the order heard (a server answering each DISCOVER appears once per DISCOVER). */
  readonly offers: readonly ProbeOffer[];
  readonly ignored: Readonly<Partial<Record<ProbeShellIgnore, number>>>;
  readonly servers: ProbeSummary;
  readonly durationMs: number;
}

/** Frames read before the reactor serves others (and the deadline). */
const DRAIN_BURST = 256;
const BROADCAST = "ff:ff:ff:ff:ff:ff";

/**
 * Probes `opts.ifname` for DHCP servers. Throws NotFoundError for an
 * interface that does not exist, Error for one that cannot be probed (not
 * Ethernet, down, no carrier, no raw socket); otherwise resolves after
 * `spanMs` (or at abort) with whatever answered.
 */
export async function probeDhcpServers(opts: ProbeOptions): Promise<ProbeResult> {
  const attempts = opts.attempts ?? PROBE_DEFAULTS.attempts;
  const spanMs = opts.spanMs ?? PROBE_DEFAULTS.spanMs;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`attempts must be a whole number ≥ 1, not ${attempts}`);
  }
  if (!Number.isFinite(spanMs) || spanMs < 0) {
    throw new RangeError(`spanMs must be a number of milliseconds ≥ 0, not ${spanMs}`);
  }
  const iface = (await listInterfaces()).find((i) => i.name === opts.ifname);
  if (iface === undefined) throw new NotFoundError(`no such interface: ${opts.ifname}`);
  if (!iface.ethernet || iface.loopback) {
    throw new Error(`${opts.ifname} is not an Ethernet interface: nothing to probe`);
  }
  if (!iface.up) throw new Error(`${opts.ifname} is down: nothing to probe`);
  if (!iface.carrier) throw new Error(`${opts.ifname} has no carrier: nothing to probe`);

  const mac = probeMac(iface.mac);
  const macBytes = macToBytes(mac);
  const own = new Set((opts.ownMacs ?? []).map(parseMac));
  const xid = crypto.getRandomValues(new Uint32Array(1))[0]!;
  let sock: RawSocket;
  try {
    sock = RawSocket.open(opts.ifname, bpfUdpDstPort(DHCP_CLIENT_PORT), { rcvbuf: 1 << 20 });
  } catch (e) {
    throw new Error(
      `cannot open a raw socket on ${opts.ifname} (needs root or CAP_NET_RAW): ${
        (e as Error).message
      }`,
    );
  }

  const offers: ProbeOffer[] = [];
  const ignored: Partial<Record<ProbeShellIgnore, number>> = {};
  const count = (r: ProbeShellIgnore) => void (ignored[r] = (ignored[r] ?? 0) + 1);
  const buf = new Uint8Array(2048); // a DHCP reply fits; a longer frame is cut and fails to decode
  const expect = { xid, mac };

  const heard = (frame: Uint8Array) => {
    let udp;
    try {
      udp = decodeUdpFrame(frame);
    } catch {
      return count("bad-frame");
    }
    if (udp === null) return count("not-udp");
    if (udp.srcPort !== DHCP_SERVER_PORT) return count("wrong-port");
    const dst = formatMac(udp.dstMac);
    // The bridge floods unicast to an unknown MAC, and a raw socket sees
    // frames for other hosts: only broadcast and the probe MAC are ours.
    if (dst !== BROADCAST && dst !== mac) return count("not-for-us");
    const srcMac = formatMac(udp.srcMac);
    const r = readOfferBytes(udp.payload, { srcMac, srcIp: udp.srcIp }, expect);
    if ("ignore" in r) return count(r.ignore);
    if (own.has(srcMac)) return count("own-server");
    if (offers.length >= PROBE_DEFAULTS.maxOffers) return count("offer-limit");
    offers.push(r);
  };

  const reactor = opts.reactor ?? Reactor.shared();
  const started = performance.now();
  const step = spanMs / attempts;
  let sent = 0;
  let reg: Registration | undefined;
  try {
    await new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        opts.signal?.removeEventListener("abort", finish);
        reactor.wantTurn();
        resolve();
      };
      const send = () => {
        const secs = (performance.now() - started) / 1000;
        const payload = encodePacket(probeDiscover(mac, xid, secs));
        const frame = encodeUdpFrame({
          srcMac: macBytes,
          dstMac: BROADCAST_MAC,
          srcIp: 0,
          dstIp: 0xffffffff,
          srcPort: DHCP_CLIENT_PORT,
          dstPort: DHCP_SERVER_PORT,
          payload,
        }) as Uint8Array<ArrayBuffer>;
        try {
          if (sock.send(frame)) sent++;
        } catch { /* the link went away: the probe hears nothing, which it reports */ }
      };
      // The schedule: DISCOVER k at k·step, the end at spanMs. A full
      // queue loses that DISCOVER, not the slot.
      let slot = 0;
      const tick = () => {
        if (done) return;
        if (slot < attempts) {
          send();
          slot++;
        }
        const next = slot < attempts ? started + slot * step : started + spanMs;
        if (reactor.now() >= next && slot >= attempts) return finish();
        reg!.deadline = next;
      };
      reg = reactor.add(sock, {
        ready: () => {
          try {
            for (let i = 0; i < DRAIN_BURST; i++) {
              const n = sock.recvInto(buf);
              if (n < 0) return;
              heard(buf.subarray(0, n));
            }
          } catch {
            // recv failed (the link went away): stop listening, keep what was heard.
            finish();
          }
        },
        timeout: () => {
          try {
            tick();
          } catch {
            finish(); // never leave the caller waiting on a registration the reactor dropped
          }
        },
      });
      if (opts.signal?.aborted) return finish();
      opts.signal?.addEventListener("abort", finish, { once: true });
      tick();
    });
  } finally {
    if (reg === undefined) sock.close();
    else reg.close();
  }
  return {
    interface: opts.ifname,
    probeMac: mac,
    xid,
    discoversSent: sent,
    offers,
    ignored,
    servers: summarize(offers),
    durationMs: performance.now() - started,
  };
}
