/**
 * @module
 * A nonblocking IPv4 UDP socket whose sends and receives are synchronous libc
 * calls: no promise, no thread hop, about a syscall each. Waiting for
 * readability is the job of the reactor (reactor.ts), which polls every socket at
 * once. Made for protocols that answer one datagram with the next (TFTP
 * lock-step), where an async receive plus an async send per packet cost more
 * than the packet.
 */
import { C, errno, libc, LibcError } from "./_libc.ts";

export interface DgramSocketOptions {
  /** Local address as a u32 (0 = any). */
  readonly address?: number;
  /** Local port (0 = ephemeral). */
  readonly port?: number;
  readonly sndbuf?: number;
  readonly rcvbuf?: number;
}

function writeSockaddr(b: Uint8Array<ArrayBuffer>, ip: number, port: number): void {
  const v = new DataView(b.buffer);
  v.setUint16(0, C.AF_INET, true);
  v.setUint16(2, port); // network order
  v.setUint32(4, ip >>> 0); // network order
}

function setInt(fd: number, name: number, value: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  if (libc().setsockopt(fd, C.SOL_SOCKET, name, b, 4) < 0) {
    throw new LibcError(what, errno());
  }
}

/** A bound, nonblocking UDP socket. */
export class DgramSocket {
  #fd: number;
  /** Local port (resolved when bound to port 0). */
  readonly port: number;
  readonly #to = new Uint8Array(16);
  #toIp = -1;
  #toPort = -1;
  readonly #from = new Uint8Array(16);
  readonly #fromView = new DataView(this.#from.buffer);
  readonly #fromLen = new Uint8Array(4);
  readonly #fromLenView = new DataView(this.#fromLen.buffer);
  #sendLen = -1;
  #sendLenBig = 0n;
  #recvLen = -1;
  #recvLenCached = 0n;
  /** Source of the last datagram `recvInto` returned. */
  fromIp = 0;
  fromPort = 0;

  private constructor(fd: number, port: number) {
    this.#fd = fd;
    this.port = port;
  }

  static open(opts: DgramSocketOptions = {}): DgramSocket {
    const l = libc();
    const fd = l.socket(C.AF_INET, C.SOCK_DGRAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0);
    if (fd < 0) throw new LibcError("socket(AF_INET, SOCK_DGRAM)", errno());
    try {
      if (opts.sndbuf) setInt(fd, C.SO_SNDBUF, opts.sndbuf, "setsockopt(SO_SNDBUF)");
      if (opts.rcvbuf) setInt(fd, C.SO_RCVBUF, opts.rcvbuf, "setsockopt(SO_RCVBUF)");
      const sa = new Uint8Array(16);
      writeSockaddr(sa, opts.address ?? 0, opts.port ?? 0);
      if (l.bind(fd, sa, 16) < 0) throw new LibcError("bind(AF_INET)", errno());
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, 16, true);
      if (l.getsockname(fd, sa, len) < 0) throw new LibcError("getsockname", errno());
      return new DgramSocket(fd, new DataView(sa.buffer).getUint16(2));
    } catch (e) {
      l.close(fd);
      throw e;
    }
  }

  /** The descriptor (-1 once closed), for a poll set. */
  get fd(): number {
    return this.#fd;
  }

  /**
   * Sends one datagram to ip:port. Returns 0, or the errno of a failed send
   * (EAGAIN or ENOBUFS when the queue is full: the datagram is lost).
   */
  sendTo(data: Uint8Array<ArrayBuffer>, ip: number, port: number): number {
    if (this.#fd < 0) return C.EAGAIN;
    // A transfer sends to the same peer every time: keep its sockaddr.
    if (ip !== this.#toIp || port !== this.#toPort) {
      writeSockaddr(this.#to, ip, port);
      this.#toIp = ip;
      this.#toPort = port;
    }
    // BigInt conversions cost an allocation; a transfer sends one size all along.
    if (data.length !== this.#sendLen) {
      this.#sendLen = data.length;
      this.#sendLenBig = BigInt(data.length);
    }
    const rc = libc().sendto(this.#fd, data, this.#sendLenBig, 0, this.#to, 16);
    return rc < 0 ? errno() || C.EAGAIN : 0;
  }

  /**
   * Copies the next queued datagram into `buf` (truncated to its length) and
   * returns its length, with the source in `fromIp`/`fromPort`; -1 when none
   * is queued (or on an error, which a datagram socket reports per packet).
   */
  recvInto(buf: Uint8Array<ArrayBuffer>): number {
    if (this.#fd < 0) return -1;
    this.#fromLenView.setUint32(0, 16, true);
    const n = Number(
      libc().recvfrom(
        this.#fd,
        buf,
        this.#recvLenBig(buf.length),
        0,
        this.#from,
        this.#fromLen,
      ),
    );
    if (n < 0) return -1;
    this.fromPort = this.#fromView.getUint16(2);
    this.fromIp = this.#fromView.getUint32(4);
    return n;
  }

  #recvLenBig(n: number): bigint {
    if (n !== this.#recvLen) {
      this.#recvLen = n;
      this.#recvLenCached = BigInt(n);
    }
    return this.#recvLenCached;
  }

  /** Closes the descriptor. A socket in a reactor is closed through its registration. */
  close(): void {
    if (this.#fd < 0) return;
    libc().close(this.#fd);
    this.#fd = -1;
  }
}
