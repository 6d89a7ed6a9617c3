/**
 * @module
 * Per-interface DHCP server transport. Requests are read from a raw socket
 * (so the ingress interface and the client's MAC are known, and clients
 * without an address are seen); replies go out either as hand-built frames
 * (to a client that has no address yet: L2 unicast to chaddr or broadcast) or
 * through a device-bound kernel UDP socket (to a relay or a client that
 * already has an address: the kernel routes and resolves the next hop).
 */
import { BROADCAST_MAC, decodeUdpFrame, encodeUdpFrame } from "./ethernet.ts";
import { bpfUdpDstPort } from "./bpf.ts";
import { FRAME_MAX, RawSocket } from "./raw_socket.ts";
import { UdpSocket } from "./udp_socket.ts";
import { macToBytes } from "../wire/mod.ts";
import { C, LibcError } from "./_libc.ts";
import { interfaceMac } from "./interfaces.ts";

/** Tries per reply when the kernel's queue is full. */
const SEND_ATTEMPTS = 3;
/** Staging buffer for one burst: room for dozens of DHCP-sized frames and one maximal one. */
const STAGE_BYTES = 64 * 1024 + FRAME_MAX;

/** Where a reply goes (RFC 2131 §4.1 decides which; see the DHCP responder). */
export type SendTarget =
  /** Through the kernel: a relay (giaddr) or a client with a configured ciaddr. */
  | { readonly kind: "unicast"; readonly ip: number; readonly port: number }
  /** Frame to chaddr with IP destination yiaddr: the client has no address yet. */
  | { readonly kind: "link"; readonly mac: Uint8Array; readonly ip: number; readonly port: number }
  /** ff:ff:ff:ff:ff:ff / 255.255.255.255. */
  | { readonly kind: "broadcast"; readonly port: number };

/** A request as it arrived. `data` is the UDP payload. */
export interface DhcpDatagram {
  readonly data: Uint8Array;
  readonly ifname: string;
  readonly ifindex: number;
  readonly srcMac: Uint8Array;
  readonly srcIp: number;
  readonly srcPort: number;
  readonly dstIp: number;
}

export interface DhcpTransportOptions {
  readonly ifname: string;
  /** Our address on this interface (u32): the IP source of frames we build. */
  readonly serverIp: number;
  /** Port we listen on (67; 4011 for proxyDHCP boot requests). */
  readonly port?: number;
  /** Kernel receive buffer for the raw socket; large by default to absorb bursts. */
  readonly rcvbuf?: number;
}

/** Counters a server can expose. */
export interface TransportStats {
  framesIn: number;
  /** Frames that were not well-formed IPv4/UDP. */
  badFrames: number;
  sent: number;
  /** Sends the kernel refused (queue full, no route), after the retries. */
  sendFailures: number;
  /** Sends tried again after the kernel's queue was full. */
  sendRetries: number;
  /** Copies of requests on the UDP socket, dropped unread (the raw socket had them). */
  udpDiscarded: number;
}

/** DHCP server side of one interface. */
export class DhcpTransport {
  readonly #raw: RawSocket;
  /** Null when another DHCP server on this host holds the port (see `open`). */
  readonly #udp: UdpSocket | null;
  readonly #mac: Uint8Array;
  readonly #serverIp: number;
  readonly #port: number;
  #ipId = 1;
  /** Where a burst of requests is read before it is copied out in one piece. */
  readonly #stage = new Uint8Array(STAGE_BYTES);
  /** Where reply frames are built (the kernel copies them on send). */
  readonly #frame = new Uint8Array(FRAME_MAX);
  readonly stats: TransportStats = {
    framesIn: 0,
    badFrames: 0,
    sent: 0,
    sendFailures: 0,
    sendRetries: 0,
    udpDiscarded: 0,
  };
  readonly ifname: string;
  /** errno of the last refused send (0 after a good one; -1: not a libc error). */
  lastSendErrno = 0;

  private constructor(
    raw: RawSocket,
    udp: UdpSocket | null,
    mac: Uint8Array,
    opts: DhcpTransportOptions,
  ) {
    this.#raw = raw;
    this.#udp = udp;
    this.#mac = mac;
    this.#serverIp = opts.serverIp;
    this.#port = opts.port ?? 67;
    this.ifname = opts.ifname;
  }

  /** The last send was refused because the kernel's queue was full (worth trying later). */
  get queueFull(): boolean {
    return this.lastSendErrno === C.EAGAIN || this.lastSendErrno === C.ENOBUFS;
  }

  static open(opts: DhcpTransportOptions): DhcpTransport {
    const port = opts.port ?? 67;
    const mac = macToBytes(interfaceMac(opts.ifname));
    const raw = RawSocket.open(opts.ifname, bpfUdpDstPort(port), {
      rcvbuf: opts.rcvbuf ?? 4 << 20,
    });
    let udp: UdpSocket | null;
    try {
      // It exists for routing replies and to keep the kernel from sending
      // ICMP port-unreachable; the raw socket already has its datagrams, so
      // each burst's copies are dropped unread (discardQueued). The buffer
      // holds a burst between two receives, so none overflows into the
      // kernel's UDP receive errors.
      udp = UdpSocket.open({ ifname: opts.ifname, port, broadcast: true, rcvbuf: 1 << 20 });
    } catch (e) {
      // Another DHCP server on this host holds the port (dnsmasq binds
      // 0.0.0.0:67 without SO_REUSEADDR). The raw socket still hears every
      // request and sends every reply as a frame; that server's socket keeps
      // the kernel from answering port-unreachable.
      if (!(e instanceof LibcError && e.errno === C.EADDRINUSE)) {
        raw.close();
        throw e;
      }
      udp = null;
    }
    return new DhcpTransport(raw, udp, mac, opts);
  }

  get ifindex(): number {
    return this.#raw.ifindex;
  }

  /** False when another server on this host holds the port: replies go out as frames only. */
  get ownsPort(): boolean {
    return this.#udp !== null;
  }

  /** Our MAC on this interface. */
  get mac(): Uint8Array {
    return this.#mac;
  }

  /** The raw socket's descriptor: the reactor watches it (-1 once closed). */
  get fd(): number {
    return this.#raw.fd;
  }

  /**
   * Everything queued now (at most `max`), read without waiting; empty when
   * nothing is. Frames that are not valid IPv4/UDP are counted in
   * `stats.badFrames` and skipped. Throws a LibcError when the socket fails
   * (e.g. the interface went away).
   */
  drain(max = 256): DhcpDatagram[] {
    const stage = this.#stage;
    const n = this.#raw.recvInto(stage);
    if (n < 0) return [];
    // Drain the queue synchronously into one staging buffer (one readiness
    // event per burst, not per packet), then copy the burst out in one allocation:
    // requests outlive this call (they wait for a commit, or an ARP probe).
    const ends: number[] = [n];
    let used = n;
    while (ends.length < max && stage.length - used >= FRAME_MAX) {
      const m = this.#raw.recvInto(stage.subarray(used, used + FRAME_MAX));
      if (m < 0) break;
      used += m;
      ends.push(used);
    }
    this.stats.framesIn += ends.length;
    if (this.#udp) this.stats.udpDiscarded += this.#udp.discardQueued();
    const burst = stage.slice(0, used);
    const out: DhcpDatagram[] = [];
    let start = 0;
    for (const end of ends) {
      const frame = burst.subarray(start, end);
      start = end;
      let udp;
      try {
        udp = decodeUdpFrame(frame);
      } catch {
        udp = null;
      }
      if (udp && udp.dstPort === this.#port) {
        out.push({
          data: udp.payload,
          ifname: this.ifname,
          ifindex: this.#raw.ifindex,
          srcMac: udp.srcMac,
          srcIp: udp.srcIp,
          srcPort: udp.srcPort,
          dstIp: udp.dstIp,
        });
      } else {
        this.stats.badFrames++;
      }
    }
    return out;
  }

  /**
   * Sends one reply. A full queue (ENOBUFS, EAGAIN) is retried a few times
   * at once: the kernel frees room as the NIC sends, and a reply lost here
   * costs the client a retransmission seconds later. False when the kernel
   * still refused it (counted in stats; `lastSendErrno` tells why).
   */
  send(payload: Uint8Array, target: SendTarget): boolean {
    for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
      if (attempt > 0) this.stats.sendRetries++;
      if (this.#sendOnce(payload, target)) {
        this.stats.sent++;
        return true;
      }
      if (this.lastSendErrno !== C.EAGAIN && this.lastSendErrno !== C.ENOBUFS) break;
    }
    this.stats.sendFailures++;
    return false;
  }

  #sendOnce(payload: Uint8Array, target: SendTarget): boolean {
    let ok: boolean;
    this.lastSendErrno = 0;
    try {
      if (target.kind === "unicast" && this.#udp) {
        ok = this.#udp.sendTo(payload as Uint8Array<ArrayBuffer>, target.ip, target.port);
        if (!ok) this.lastSendErrno = this.#udp.lastSendErrno;
      } else {
        // Without the UDP socket a unicast reply goes out as a link
        // broadcast to its IP: it reaches a client on this segment (a relay
        // behind a router it does not).
        const frame = encodeUdpFrame(
          {
            srcMac: this.#mac,
            dstMac: target.kind === "link" ? target.mac : BROADCAST_MAC,
            srcIp: this.#serverIp,
            dstIp: target.kind === "broadcast" ? 0xffffffff : target.ip,
            srcPort: this.#port,
            dstPort: target.port,
            payload,
          },
          this.#ipId = (this.#ipId + 1) & 0xffff,
          this.#frame,
        ) as Uint8Array<ArrayBuffer>;
        ok = this.#raw.send(frame);
        if (!ok) this.lastSendErrno = this.#raw.lastSendErrno;
      }
    } catch (e) {
      ok = false;
      this.lastSendErrno = e instanceof LibcError ? e.errno : -1;
    }
    return ok;
  }

  close(): void {
    this.#raw.close();
    this.#udp?.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
