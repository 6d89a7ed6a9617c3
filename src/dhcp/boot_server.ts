/**
 * @module
 * The PXE boot server on UDP 4011 (I/O shell around `respond4011`). UEFI
 * firmware whose proxy OFFER carried no boot file sends its DHCPREQUEST here,
 * from the address the real DHCP server gave it; the ACK goes back to the
 * datagram's source address and port through the kernel (it routes and
 * resolves, the client has an address by now).
 *
 * One socket bound to 0.0.0.0:4011 in the process's reactor: bound to the
 * wildcard so it also hears firmware that broadcasts its REQUEST. The socket
 * does not tell which of our addresses a datagram was sent to, so the
 * ingress segment is the one whose subnet holds the source (option 54 first,
 * when it names one of ours). Decode errors, responder and send failures are
 * counted, never fatal.
 */
import { getLogger } from "@logtape/logtape";
import { DecodeError } from "../errors.ts";
import { DgramSocket, Reactor, type Registration } from "../net/mod.ts";
import { type Cidr, cidrContains, formatIpv4 } from "../wire/mod.ts";
import { PXE_SERVER_PORT } from "./constants.ts";
import { getServerId } from "./option_values.ts";
import { decodePacket, type DhcpPacket, encodePacket } from "./packet.ts";
import type { BootServerContext, BootServerDecision, ProxyResponder } from "./proxy.ts";
import { countIgnore, newStats } from "./server_stats.ts";

const log = getLogger(["mesh", "dhcp", "pxe"]);

/** A segment the boot server answers for. */
export interface BootServerInterface {
  readonly name: string;
  /** Our address there (option 54, siaddr of the ACK). */
  readonly serverIp: number;
  readonly subnet: Cidr;
  /** Segment name for the boot files; the interface name by default. */
  readonly segment?: string;
}

export interface BootServerOptions {
  readonly interfaces: readonly BootServerInterface[];
  readonly responder: Pick<ProxyResponder, "respond4011">;
  /** Port to bind (default 4011; tests may use 0 for an ephemeral one). */
  readonly port?: number;
  readonly signal?: AbortSignal;
  /** Called with every decision after the send (if any); must not throw (caught, counted). */
  readonly onDecision?: (req: DhcpPacket, d: BootServerDecision, sent: boolean) => void;
  readonly reactor?: Reactor;
}

/** Counters, all monotonic. */
export interface BootServerStats {
  received: number;
  /** ACKs the kernel took. */
  replied: number;
  /** DecodeError: not a DHCP message. */
  malformed: number;
  ignored: number;
  /** Ignore reasons by shape (bounded, as the port 67 server counts them). */
  ignoreReasons: Record<string, number>;
  /** The kernel refused the ACK. */
  sendFailures: number;
  /** Unexpected failures (responder, encode, hook). */
  errors: number;
}

export interface BootServerHandle {
  /** The bound port (4011 unless told otherwise). */
  readonly port: number;
  stats(): BootServerStats;
  close(): Promise<void>;
  readonly done: Promise<void>;
}

/** Datagrams read per readiness event, so a flood cannot starve the other sockets. */
const BURST = 64;
/** Room for any DHCP message and any reply we build. */
const BUFFER_BYTES = 1500;

/** The segment a datagram belongs to (see the module comment); `interfaces` is not empty. */
export function ingressOf(
  interfaces: readonly BootServerInterface[],
  req: DhcpPacket,
  srcIp: number,
): BootServerInterface {
  const sid = getServerId(req.options);
  return interfaces.find((i) => i.serverIp === sid) ??
    interfaces.find((i) => cidrContains(i.subnet, srcIp)) ??
    // A routed client: answer from our first address, which is all we can know.
    interfaces[0]!;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Binds the socket and starts answering. Throws when the port cannot be bound. */
export function startBootServer(opts: BootServerOptions): BootServerHandle {
  if (opts.interfaces.length === 0) throw new Error("pxe boot server: no interfaces");
  const reactor = opts.reactor ?? Reactor.shared();
  const port = opts.port ?? PXE_SERVER_PORT;
  let sock: DgramSocket;
  try {
    sock = DgramSocket.open({ address: 0, port });
  } catch (e) {
    throw new Error(`pxe boot server: cannot bind 0.0.0.0:${port}: ${errText(e)}`, { cause: e });
  }
  // The port 67 server's counting of ignore reasons, reused for its bounded table.
  const dhcpStats = newStats();
  const stats: BootServerStats = {
    received: 0,
    replied: 0,
    malformed: 0,
    ignored: 0,
    ignoreReasons: dhcpStats.ignoreReasons,
    sendFailures: 0,
    errors: 0,
  };
  const recv = new Uint8Array(BUFFER_BYTES);
  const scratch = new Uint8Array(BUFFER_BYTES);

  function decide(req: DhcpPacket, srcIp: number, srcPort: number): BootServerDecision | null {
    const itf = ingressOf(opts.interfaces, req, srcIp);
    const ctx: BootServerContext = {
      segment: itf.segment ?? itf.name,
      serverIp: itf.serverIp,
      srcIp,
      srcPort,
    };
    try {
      return opts.responder.respond4011(req, ctx);
    } catch (e) {
      stats.errors++;
      log.warn("responder failed", { error: errText(e), xid: req.xid });
      return null;
    }
  }

  function send(d: BootServerDecision & { kind: "reply" }): boolean {
    try {
      const payload = encodePacket(d.packet, scratch) as Uint8Array<ArrayBuffer>;
      const errno = sock.sendTo(payload, d.to.ip, d.to.port);
      if (errno === 0) {
        stats.replied++;
        return true;
      }
      stats.sendFailures++;
      log.debug("ACK refused by the kernel", { errno, to: formatIpv4(d.to.ip) });
    } catch (e) {
      stats.errors++;
      log.warn("send failed", { error: errText(e) });
    }
    return false;
  }

  function handle(bytes: Uint8Array, srcIp: number, srcPort: number): void {
    stats.received++;
    let req: DhcpPacket;
    try {
      req = decodePacket(bytes); // copies: the receive buffer is reused
    } catch (e) {
      stats.malformed++;
      if (!(e instanceof DecodeError)) stats.errors++;
      log.debug("malformed request on 4011", { from: formatIpv4(srcIp), error: errText(e) });
      return;
    }
    const d = decide(req, srcIp, srcPort);
    if (d === null) return;
    let sent = false;
    if (d.kind === "ignore") {
      countIgnore(dhcpStats, d.reason);
      stats.ignored++;
    } else sent = send(d);
    log.debug("4011 decision", { kind: d.kind, reason: d.reason, xid: req.xid, sent });
    try {
      opts.onDecision?.(req, d, sent);
    } catch (e) {
      stats.errors++;
      log.warn("decision hook failed", { error: errText(e) });
    }
  }

  let closed = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((r) => finish = r);
  const reg: Registration = reactor.add(sock, {
    ready() {
      for (let i = 0; i < BURST && !closed; i++) {
        const n = sock.recvInto(recv);
        if (n < 0) return;
        handle(recv.subarray(0, n), sock.fromIp, sock.fromPort);
      }
    },
    timeout() {},
  });

  function close(): Promise<void> {
    if (!closed) {
      closed = true;
      reg.close(); // closes the socket
      finish();
    }
    return done;
  }
  if (opts.signal?.aborted) void close();
  else opts.signal?.addEventListener("abort", () => void close(), { once: true });

  log.info("pxe boot server listening", { port: sock.port });
  return { port: sock.port, stats: () => structuredClone(stats), close, done };
}
