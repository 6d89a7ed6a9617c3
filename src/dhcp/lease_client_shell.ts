/**
 * @module
 * The lease client's I/O: one raw socket on the interface, waiting in the
 * shared reactor, drives the pure state machine (lease_client.ts) and sends
 * what it decides. The shell never touches addresses itself: it reports
 * leases through `onBound`/`onUnbound`, and the daemon adds or removes the
 * address (netlink `addAddress`/`deleteAddress`). Renewals only work once
 * that address is on the interface: the server unicasts its answer to
 * ciaddr and must be able to ARP for it.
 *
 * Everything goes through the raw socket, receiving and sending alike:
 *  - before the address is configured a UDP socket cannot receive (replies go
 *    to an address the kernel does not own yet, or to our MAC only);
 *  - a UDP socket on port 68 would also clash with another DHCP client or the
 *    daemon's own sockets on the host;
 *  - RENEWING and DHCPRELEASE are unicast frames to the MAC the server's ACK
 *    came from (the server's, or its relay's router when it is routed): no
 *    ARP, no route, and they work the same whether or not the daemon has
 *    added the address yet.
 */
import { getLogger } from "@logtape/logtape";
import {
  bpfUdpDstPort,
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  RawSocket,
  Reactor,
  type UdpFrame,
} from "../net/mod.ts";
import { formatIpv4, macToBytes } from "../wire/mod.ts";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT } from "./constants.ts";
import {
  type ClientState,
  type IgnoreReason,
  type Lease,
  LeaseClient,
  type LeaseDecision,
  type UnbindReason,
} from "./lease_client.ts";
import { decodePacket, type DhcpPacket, encodePacket } from "./packet.ts";

const log = getLogger(["mesh", "dhcp"]);

/** Frames read per wake-up before the reactor serves others (a flood cannot hold the loop). */
const DRAIN_BURST = 64;

export interface LeaseClientShellOptions {
  readonly ifname: string;
  /** The interface's real MAC (the server leases to it). */
  readonly mac: string;
  /** The address held before a restart: asked for again (INIT-REBOOT). */
  readonly previous?: number;
  readonly hostname?: string;
  /** A lease was granted or renewed (the same address again, with later times). */
  readonly onBound: (lease: Lease) => void | Promise<void>;
  /** The lease ended: NAK, expiry, a new address replacing it, or `close()`. */
  readonly onUnbound: (lease: Lease, why: UnbindReason) => void | Promise<void>;
  /** Aborting it is `close()`. */
  readonly signal?: AbortSignal;
  readonly reactor?: Reactor;
}

export interface LeaseClientStats {
  received: number;
  sent: number;
  sendFailures: number;
  malformed: number;
  ignored: Partial<Record<IgnoreReason, number>>;
}

export interface LeaseClientHandle {
  readonly state: ClientState;
  readonly lease: Lease | undefined;
  readonly stats: Readonly<LeaseClientStats>;
  /** Settles once closed and every callback has run. */
  readonly done: Promise<void>;
  /** Sends DHCPRELEASE when bound, calls onUnbound(…, "released"), closes the socket. */
  close(): Promise<void>;
}

/** Starts taking and keeping a lease on `ifname`. Throws when the raw socket cannot be opened. */
export function startLeaseClient(opts: LeaseClientShellOptions): LeaseClientHandle {
  const reactor = opts.reactor ?? Reactor.shared();
  const mac = macToBytes(opts.mac);
  const sock = RawSocket.open(opts.ifname, bpfUdpDstPort(DHCP_CLIENT_PORT));
  const machine = new LeaseClient({
    mac: opts.mac,
    ...(opts.previous !== undefined ? { previous: opts.previous } : {}),
    ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
    xid: () => crypto.getRandomValues(new Uint32Array(1))[0]!,
    jitter: () => Math.random() * 2000 - 1000,
  });
  const stats: LeaseClientStats = {
    received: 0,
    sent: 0,
    sendFailures: 0,
    malformed: 0,
    ignored: {},
  };
  const buf = new Uint8Array(9216); // a jumbo frame, as RawSocket reads at most
  /** Where unicast frames go: the source MAC of the last ACK (until then, broadcast). */
  let serverMac: Uint8Array = BROADCAST_MAC;
  let ipId = 1;
  // Callbacks run one after another, in decision order (an address is added before it is removed).
  let callbacks: Promise<void> = Promise.resolve();
  let closing: Promise<void> | undefined;
  let markDone: () => void = () => {};
  const done = new Promise<void>((r) => markDone = r);

  const later = (what: string, fn: () => void | Promise<void>) => {
    callbacks = callbacks.then(fn).catch((e) =>
      log.error("lease client {ifname}: {what} failed: {error}", {
        ifname: opts.ifname,
        what,
        error: String(e),
      })
    );
    reactor.wantTurn();
  };

  const transmit = (send: NonNullable<LeaseDecision["send"]>) => {
    const unicast = send.to !== "broadcast";
    const frame = encodeUdpFrame({
      srcMac: mac,
      dstMac: unicast ? serverMac : BROADCAST_MAC,
      // 0.0.0.0 until we have an address (RFC 2131 §4.1); ciaddr once bound.
      srcIp: send.packet.ciaddr,
      dstIp: send.to === "broadcast" ? 0xffffffff : send.to.ip,
      srcPort: DHCP_CLIENT_PORT,
      dstPort: DHCP_SERVER_PORT,
      payload: encodePacket(send.packet),
    }, ipId++ & 0xffff) as Uint8Array<ArrayBuffer>;
    let ok = false;
    try {
      ok = sock.send(frame);
    } catch (e) { // the link went down: the next retransmission tries again
      log.debug("lease client {ifname}: send failed: {error}", {
        ifname: opts.ifname,
        error: String(e),
      });
    }
    if (ok) stats.sent++;
    else stats.sendFailures++;
  };

  const apply = (d: LeaseDecision) => {
    if (d.send) transmit(d.send);
    if (d.ignored) stats.ignored[d.ignored] = (stats.ignored[d.ignored] ?? 0) + 1;
    const { unbind, why, bind } = d;
    if (unbind) {
      log.info("lease client {ifname}: {ip} unbound ({why})", {
        ifname: opts.ifname,
        ip: formatIpv4(unbind.ip),
        why,
      });
      later("onUnbound", () => opts.onUnbound(unbind, why ?? "expired"));
    }
    if (bind) {
      log.info("lease client {ifname}: {ip}/{prefix} from {server} via {via}, {seconds} s", {
        ifname: opts.ifname,
        ip: formatIpv4(bind.ip),
        prefix: bind.prefix,
        server: formatIpv4(bind.serverId),
        via: bind.via,
        seconds: bind.leaseSeconds,
      });
      later("onBound", () => opts.onBound(bind));
    }
    if (!reg.closed) reg.deadline = d.nextAt;
  };

  const heard = (frame: Uint8Array) => {
    let udp: UdpFrame | null;
    let pkt: DhcpPacket;
    try {
      udp = decodeUdpFrame(frame);
      if (udp === null || udp.srcPort !== DHCP_SERVER_PORT) return;
      pkt = decodePacket(udp.payload);
    } catch { // not a DHCP message we can read: counted, never fatal
      stats.malformed++;
      return;
    }
    stats.received++;
    const d = machine.received(pkt, reactor.now());
    if (d.bind) serverMac = udp.srcMac.slice();
    apply(d);
  };

  const reg = reactor.add(sock, {
    ready: () => {
      for (let i = 0; i < DRAIN_BURST; i++) {
        const n = sock.recvInto(buf);
        if (n < 0) return;
        heard(buf.subarray(0, n));
      }
    },
    timeout: () => apply(machine.tick(reactor.now())),
  });

  const close = (): Promise<void> => {
    closing ??= (async () => {
      opts.signal?.removeEventListener("abort", onAbort);
      const d = machine.stop(reactor.now());
      apply(d); // the RELEASE leaves before the socket closes
      reg.close();
      await callbacks;
      markDone();
    })();
    return closing;
  };
  const onAbort = () => void close();

  apply(machine.start(reactor.now()));
  if (opts.signal?.aborted) void close();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  return {
    get state() {
      return machine.state;
    },
    get lease() {
      return machine.lease;
    },
    stats,
    done,
    close,
  };
}
