/**
 * @module
 * A kernel UDP socket bound to one device (SO_BINDTODEVICE) through libc.
 * DHCP servers need it for two reasons: replies to relays and to clients that
 * already have an address go through the kernel's routing and ARP; and while
 * it is bound to port 67 the kernel does not answer unicast renewals with ICMP
 * port-unreachable (the raw socket sees those requests, the kernel does not
 * know that).
 */
import { C, check, cstr, errno, libc, LibcError } from "./_libc.ts";
import { PolledFd } from "./polled_fd.ts";

export interface UdpSocketOptions {
  /** Device to bind to; all devices when omitted. */
  readonly ifname?: string;
  /** Local address as a u32 (0 = any). */
  readonly address?: number;
  readonly port: number;
  readonly broadcast?: boolean;
  readonly rcvbuf?: number;
}

function sockaddrIn(ip: number, port: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, C.AF_INET, true);
  v.setUint16(2, port); // network order
  v.setUint32(4, ip >>> 0); // network order
  return b;
}

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  check(what, libc().setsockopt(fd, level, name, b, 4));
}

/** A received datagram. */
export interface UdpDatagram {
  readonly data: Uint8Array;
  readonly srcIp: number;
  readonly srcPort: number;
}

/** UDP socket via libc. */
export class UdpSocket {
  readonly #io: PolledFd;
  readonly #buf = new Uint8Array(65536);
  readonly #one = new Uint8Array(1);
  /** errno of the last send the kernel refused. */
  lastSendErrno = 0;
  readonly #from = new Uint8Array(16);
  readonly #fromLen = new Uint8Array(4);
  #to = sockaddrIn(0, 0);
  #toIp = 0;
  #toPort = 0;

  private constructor(fd: number) {
    this.#io = new PolledFd(fd);
  }

  static open(opts: UdpSocketOptions): UdpSocket {
    const l = libc();
    const fd = check(
      "socket(AF_INET)",
      l.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0),
    );
    try {
      setInt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
      if (opts.broadcast) setInt(fd, C.SOL_SOCKET, C.SO_BROADCAST, 1, "setsockopt(SO_BROADCAST)");
      if (opts.rcvbuf) setInt(fd, C.SOL_SOCKET, C.SO_RCVBUF, opts.rcvbuf, "setsockopt(SO_RCVBUF)");
      if (opts.ifname) {
        const name = cstr(opts.ifname);
        check(
          "setsockopt(SO_BINDTODEVICE)",
          l.setsockopt(fd, C.SOL_SOCKET, C.SO_BINDTODEVICE, name, name.length),
        );
      }
      check("bind(AF_INET)", l.bind(fd, sockaddrIn(opts.address ?? 0, opts.port), 16));
    } catch (e) {
      l.close(fd);
      throw e;
    }
    return new UdpSocket(fd);
  }

  /** Sends to ip:port. False when the kernel queue is full or the next hop is unresolved. */
  sendTo(data: Uint8Array<ArrayBuffer>, ip: number, port: number): boolean {
    if (this.#io.closed) return false;
    // A server answers the same relay (or client) many times in a row: reuse its sockaddr.
    if (ip !== this.#toIp || port !== this.#toPort) {
      this.#to = sockaddrIn(ip, port);
      this.#toIp = ip;
      this.#toPort = port;
    }
    const rc = Number(
      libc().sendto(this.#io.fd, data, BigInt(data.length), C.MSG_DONTWAIT, this.#to, 16),
    );
    if (rc >= 0) return true;
    const e = errno();
    this.lastSendErrno = e;
    if (e === C.EAGAIN || e === C.ENOBUFS || e === C.EINTR) return false;
    throw new LibcError("sendto(AF_INET)", e);
  }

  /** The next queued datagram, or null. Never blocks. */
  tryRecv(): UdpDatagram | null {
    if (this.#io.closed) return null;
    new DataView(this.#fromLen.buffer).setUint32(0, 16, true);
    const n = Number(
      libc().recvfrom(this.#io.fd, this.#buf, 65536n, C.MSG_DONTWAIT, this.#from, this.#fromLen),
    );
    if (n < 0) {
      const e = errno();
      if (e === C.EAGAIN || e === C.EINTR) return null;
      throw new LibcError("recvfrom(AF_INET)", e);
    }
    const v = new DataView(this.#from.buffer);
    return { data: this.#buf.slice(0, n), srcPort: v.getUint16(2), srcIp: v.getUint32(4) };
  }

  /**
   * Drops every datagram queued now without copying it (MSG_TRUNC into one
   * byte); returns how many. For a socket bound only so that the kernel
   * routes replies and sends no ICMP port-unreachable: read this way, its
   * queue never overflows into the kernel's receive-error counters.
   */
  discardQueued(): number {
    let n = 0;
    while (!this.#io.closed) {
      const r = Number(libc().recv(this.#io.fd, this.#one, 1n, C.MSG_DONTWAIT | C.MSG_TRUNC));
      if (r < 0) break;
      n++;
    }
    return n;
  }

  /** Waits for and returns the next datagram, or null once closed or aborted. */
  async recv(signal?: AbortSignal): Promise<UdpDatagram | null> {
    while (!this.#io.closed && !signal?.aborted) {
      const d = this.tryRecv();
      if (d) return d;
      await this.#io.waitReadable(100);
    }
    return null;
  }

  close(): void {
    this.#io.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
