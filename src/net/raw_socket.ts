/**
 * @module
 * AF_PACKET raw sockets bound to one interface, with a BPF filter attached.
 * Frames are whole Ethernet frames. Sending and draining are synchronous
 * (MSG_DONTWAIT, never blocking); waiting for readability is a poll on a worker
 * thread, so the event loop never stalls.
 */
import { C, check, cstr, errno, htons, libc, LibcError } from "./_libc.ts";
import { bpfDropAll, type BpfInstruction, encodeBpf } from "./bpf.ts";
import { PolledFd } from "./polled_fd.ts";

/** Largest frame we read (jumbo frames are not expected on PXE segments). */
export const FRAME_MAX = 9216;
/** A poll never waits longer than this, so close() is noticed promptly. */
const POLL_SLICE_MS = 100;

export interface RawSocketOptions {
  /** Kernel receive buffer in bytes (bigger absorbs bursts under load). */
  readonly rcvbuf?: number;
  /** Ethertype to bind to; ETH_P_ALL by default (the BPF filter narrows it). */
  readonly protocol?: number;
}

function attachFilter(fd: number, prog: readonly BpfInstruction[]): void {
  const code = encodeBpf(prog);
  const fprog = new Uint8Array(16); // struct sock_fprog { u16 len; (pad); sock_filter *filter; }
  const v = new DataView(fprog.buffer);
  v.setUint16(0, prog.length, true);
  v.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(code))), true);
  check(
    "setsockopt(SO_ATTACH_FILTER)",
    libc().setsockopt(fd, C.SOL_SOCKET, C.SO_ATTACH_FILTER, fprog, 16),
  );
}

function setInt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  check(what, libc().setsockopt(fd, level, name, b, 4));
}

/** A raw Ethernet socket on one interface. */
export class RawSocket {
  readonly #io: PolledFd;
  readonly #buf = new Uint8Array(FRAME_MAX);
  readonly #timespec = new Uint8Array(16);
  #timespecMicros = -1;
  readonly ifname: string;
  readonly ifindex: number;

  private constructor(fd: number, ifname: string, ifindex: number) {
    this.#io = new PolledFd(fd);
    this.ifname = ifname;
    this.ifindex = ifindex;
  }

  /** Opens a raw socket on `ifname` that receives only frames `filter` accepts. */
  static open(
    ifname: string,
    filter: readonly BpfInstruction[],
    opts: RawSocketOptions = {},
  ): RawSocket {
    const l = libc();
    const ifindex = l.if_nametoindex(cstr(ifname));
    if (ifindex === 0) throw new LibcError(`if_nametoindex(${ifname})`, errno());
    // Protocol 0 at creation receives nothing until bind, so the filter is in
    // place before the first frame can be queued.
    const fd = check(
      "socket(AF_PACKET)",
      l.socket(C.AF_PACKET, C.SOCK_RAW | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0),
    );
    try {
      attachFilter(fd, bpfDropAll());
      attachFilter(fd, filter);
      // Our own transmissions would otherwise loop back into the receive path.
      try {
        setInt(fd, C.SOL_PACKET, C.PACKET_IGNORE_OUTGOING, 1, "setsockopt(PACKET_IGNORE_OUTGOING)");
      } catch { /* kernel < 4.20: outgoing frames are filtered by the caller instead */ }
      if (opts.rcvbuf) setInt(fd, C.SOL_SOCKET, C.SO_RCVBUF, opts.rcvbuf, "setsockopt(SO_RCVBUF)");
      const sll = new Uint8Array(20); // struct sockaddr_ll
      const v = new DataView(sll.buffer);
      v.setUint16(0, C.AF_PACKET, true);
      v.setUint16(2, htons(opts.protocol ?? C.ETH_P_ALL), true);
      v.setInt32(4, ifindex, true);
      check("bind(AF_PACKET)", l.bind(fd, sll, 20));
    } catch (e) {
      l.close(fd);
      throw e;
    }
    return new RawSocket(fd, ifname, ifindex);
  }

  get closed(): boolean {
    return this.#io.closed;
  }

  /** Sends one frame. False when the kernel queue is full (the caller counts a drop). */
  send(frame: Uint8Array<ArrayBuffer>): boolean {
    if (this.#io.closed) return false;
    const rc = Number(libc().send(this.#io.fd, frame, BigInt(frame.length), C.MSG_DONTWAIT));
    if (rc >= 0) return true;
    const e = errno();
    if (e === C.EAGAIN || e === C.ENOBUFS || e === C.EINTR) return false;
    throw new LibcError("send(AF_PACKET)", e);
  }

  /** The next queued frame (a copy), or null when none is waiting. Never blocks. */
  tryRecv(): Uint8Array | null {
    const n = this.recvInto(this.#buf);
    return n >= 0 ? this.#buf.slice(0, n) : null;
  }

  /**
   * Reads the next queued frame into `into` (which should hold FRAME_MAX
   * bytes; a longer frame is cut short) and returns its length, or -1 when
   * none is waiting. Never blocks. Lets a caller gather a burst in one
   * buffer instead of allocating one per frame.
   */
  recvInto(into: Uint8Array): number {
    if (this.#io.closed) return -1;
    const n = Number(libc().recv(this.#io.fd, into, BigInt(into.length), C.MSG_DONTWAIT));
    if (n >= 0) return n;
    const e = errno();
    if (e === C.EAGAIN || e === C.EINTR) return -1;
    throw new LibcError("recv(AF_PACKET)", e);
  }

  /**
   * Sleeps on the calling thread, in the kernel, until a frame is queued or
   * `micros` pass; true when one is. The event loop is held meanwhile, so the
   * caller keeps `micros` small. A frame wakes this thread directly, which
   * under load replaces the two thread switches of `wait` (worker, then event
   * loop), each waiting for a time slice on a busy machine.
   */
  waitHere(micros: number): boolean {
    if (this.#io.closed) return false;
    this.#setTimespec(micros);
    return libc().ppoll(this.#io.pollfd, 1n, this.#timespec, null) > 0;
  }

  /**
   * True at once when a frame is queued; otherwise sleeps `micros` on the
   * calling thread whatever arrives, then tells whether one is queued now.
   * Under load this gathers several frames per wake-up instead of waking
   * for each one.
   */
  linger(micros: number): boolean {
    if (this.#io.closed) return false;
    const l = libc();
    if (l.poll_now(this.#io.pollfd, 1n, 0) > 0) return true;
    this.#setTimespec(micros);
    l.ppoll(null, 0n, this.#timespec, null);
    return l.poll_now(this.#io.pollfd, 1n, 0) > 0;
  }

  #setTimespec(micros: number): void {
    if (micros !== this.#timespecMicros) {
      this.#timespecMicros = micros;
      const v = new DataView(this.#timespec.buffer);
      v.setBigInt64(0, BigInt(Math.floor(micros / 1e6)), true);
      v.setBigInt64(8, BigInt(Math.floor(micros % 1e6) * 1000), true);
    }
  }

  /** Waits (off the main thread) until a frame is queued; false on timeout or close. */
  async wait(timeoutMs: number): Promise<boolean> {
    // Short slices, so a close is noticed soon even while nothing arrives.
    for (let left = timeoutMs; left > 0 && !this.#io.closed; left -= POLL_SLICE_MS) {
      if (await this.#io.waitReadable(Math.min(left, POLL_SLICE_MS))) return true;
    }
    return false;
  }

  /** Waits for and returns the next frame, or null once closed or `signal` aborts. */
  async recv(signal?: AbortSignal): Promise<Uint8Array | null> {
    while (!this.#io.closed && !signal?.aborted) {
      const f = this.tryRecv();
      if (f) return f;
      await this.wait(POLL_SLICE_MS);
    }
    return null;
  }

  /** Closes the socket (deferred until an in-flight poll returns, so the fd is never reused under it). */
  close(): void {
    this.#io.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
