/**
 * @module
 * AF_PACKET raw sockets bound to one interface, with a BPF filter attached.
 * Frames are whole Ethernet frames. Sending and draining are synchronous
 * (MSG_DONTWAIT, never blocking). A server registers the socket in the
 * reactor (`fd`); a client awaits readability through it (`wait`).
 */
import { C, check, cstr, errno, htons, libc, LibcError } from "./_libc.ts";
import { bpfDropAll, type BpfInstruction, encodeBpf } from "./bpf.ts";
import { PolledFd } from "./polled_fd.ts";

/** Largest frame we read (jumbo frames are not expected on PXE segments). */
export const FRAME_MAX = 9216;
/** How long `recv` waits per round before looking at its signal again. */
const POLL_SLICE_MS = 100;

export interface RawSocketOptions {
  /** Kernel receive buffer in bytes (bigger absorbs bursts under load). */
  readonly rcvbuf?: number;
  /** Ethertype to bind to; ETH_P_ALL by default (the BPF filter narrows it). */
  readonly protocol?: number;
  /**
   * Multicast MACs to receive. A host joins only the groups its own stack
   * uses, so a card's hardware filter (and a snooping switch) would drop
   * others, e.g. IPv6 all-routers (33:33:00:00:00:02) on a host that does
   * not forward.
   */
  readonly multicast?: readonly Uint8Array[];
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

/** PACKET_ADD_MEMBERSHIP: the card delivers frames to `mac` while the socket is open. */
function joinMulticast(fd: number, ifindex: number, mac: Uint8Array): void {
  const mreq = new Uint8Array(16); // struct packet_mreq { int ifindex; u16 type; u16 alen; u8 addr[8]; }
  const v = new DataView(mreq.buffer);
  v.setInt32(0, ifindex, true);
  v.setUint16(4, C.PACKET_MR_MULTICAST, true);
  v.setUint16(6, 6, true);
  mreq.set(mac.subarray(0, 6), 8);
  check(
    "setsockopt(PACKET_ADD_MEMBERSHIP)",
    libc().setsockopt(fd, C.SOL_PACKET, C.PACKET_ADD_MEMBERSHIP, mreq, 16),
  );
}

/** A raw Ethernet socket on one interface. */
export class RawSocket {
  readonly #io: PolledFd;
  readonly #buf = new Uint8Array(FRAME_MAX);
  readonly ifname: string;
  readonly ifindex: number;
  /** errno of the last send the kernel refused. */
  lastSendErrno = 0;

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
      for (const mac of opts.multicast ?? []) joinMulticast(fd, ifindex, mac);
    } catch (e) {
      l.close(fd);
      throw e;
    }
    return new RawSocket(fd, ifname, ifindex);
  }

  get closed(): boolean {
    return this.#io.closed;
  }

  /** The descriptor, for the reactor (-1 once closed). */
  get fd(): number {
    return this.#io.fd;
  }

  /** Sends one frame. False when the kernel queue is full (the caller counts a drop). */
  send(frame: Uint8Array<ArrayBuffer>): boolean {
    if (this.#io.closed) return false;
    const rc = Number(libc().send(this.#io.fd, frame, BigInt(frame.length), C.MSG_DONTWAIT));
    if (rc >= 0) return true;
    const e = errno();
    this.lastSendErrno = e;
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

  /** Waits (in the reactor) until a frame is queued; false on timeout or close. */
  wait(timeoutMs: number): Promise<boolean> {
    return this.#io.waitReadable(timeoutMs);
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

  /** Closes the socket (pending waits end first, so the fd is never reused under them). */
  close(): void {
    this.#io.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
