/**
 * @module
 * The libc symbols mesh needs for raw frames, device-bound UDP sockets and
 * rtnetlink.
 * Private to src/net: nothing outside this folder calls libc.
 *
 * The calls that wait (the reactor's `epoll_wait`, the HTTP engine's
 * `sendfile_wait`) are `nonblocking: true`: they run on a worker thread and
 * the event loop keeps running. All other socket I/O uses MSG_DONTWAIT and
 * is synchronous: it never waits.
 * `sendfile` is synchronous on a non-blocking socket: it copies what fits in
 * the socket buffer and returns (page-cache reads are not offloaded).
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "isize",
  },
  close: { parameters: ["i32"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  /** A zero-timeout check of one fd (no thread hop). */
  poll_now: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32" },
  // TCP listener for the sendfile HTTP engine (http_server.ts)
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** Waits on a worker thread, so the event loop keeps running. */
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  /**
   * A short wait on the calling thread (timespec timeout): the thread sleeps
   * in the kernel and an event wakes it directly. Linux 5.11, glibc 2.35.
   */
  epoll_pwait2: { parameters: ["i32", "buffer", "i32", "buffer", "pointer"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** open(2) is variadic; called with two arguments (no O_CREAT, so no mode). */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  /** sendfile on a worker thread, for a socket switched to blocking mode. */
  sendfile_wait: {
    name: "sendfile",
    parameters: ["i32", "i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libc symbol table, opened on first use (so importing never needs --allow-ffi). */
export function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** Linux constants (x86-64 / aarch64 values, which agree for these). */
export const C = {
  AF_INET: 2,
  AF_PACKET: 17,
  /** rtnetlink (netlink_socket.ts): link and address dumps, changes and notifications. */
  AF_NETLINK: 16,
  NETLINK_ROUTE: 0,
  SOL_NETLINK: 270,
  /** Errors echo only the request's header, not the whole request. */
  NETLINK_CAP_ACK: 10,
  /** Errors carry the kernel's explanation (extended ack). */
  NETLINK_EXT_ACK: 11,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_BROADCAST: 6,
  SO_KEEPALIVE: 9,
  SO_SNDTIMEO: 21,
  // caps a TCP socket's pacing rate (bytes/s); turns on TCP's internal pacing without fq
  SO_MAX_PACING_RATE: 47,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_BINDTODEVICE: 25,
  SO_ATTACH_FILTER: 26,
  SOL_PACKET: 263,
  PACKET_IGNORE_OUTGOING: 23,
  PACKET_ADD_MEMBERSHIP: 1,
  PACKET_MR_MULTICAST: 0,
  ETH_P_ALL: 0x0003,
  ETH_P_IP: 0x0800,
  ETH_P_ARP: 0x0806,
  IPPROTO_TCP: 6,
  TCP_NODELAY: 1,
  TCP_CORK: 3,
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  MSG_NOSIGNAL: 0x4000,
  MSG_MORE: 0x8000,
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  FIONBIO: 0x5421,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x1,
  EPOLLOUT: 0x4,
  EPOLLERR: 0x8,
  EPOLLHUP: 0x10,
  EPOLLRDHUP: 0x2000,
  EPOLLONESHOT: 1 << 30,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  O_RDONLY: 0,
  O_CLOEXEC: 0o2000000,
  O_NOFOLLOW: 0o400000,
  AT_EMPTY_PATH: 0x1000,
  STATX_BASIC_STATS: 0x7ff,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EEXIST: 17,
  ENODEV: 19,
  EAGAIN: 11,
  EMFILE: 24,
  ENFILE: 23,
  EPIPE: 32,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
} as const;

/** The calling thread's errno (valid right after a synchronous call that failed). */
export function errno(): number {
  const p = libc().__errno_location();
  if (p === null) return 0;
  return new Deno.UnsafePointerView(p).getInt32();
}

/** An Error for a failed libc call, carrying errno. */
export class LibcError extends Error {
  override name = "LibcError";
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: errno ${errno}`);
  }
}

/** Throws LibcError when `rc` is negative. Returns rc as a number. */
export function check(call: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new LibcError(call, errno());
  return n;
}

/** NUL-terminated C string. */
export function cstr(text: string): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(text.length + 1);
  b.set(new TextEncoder().encode(text));
  return b;
}

/** Host to network byte order for 16 bits. */
export function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}
