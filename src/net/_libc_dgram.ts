/**
 * @module
 * The libc symbols of the datagram reactor (dgram_socket.ts, dgram_reactor.ts).
 * A separate table from _libc.ts so the two can change independently; both
 * open the same libc, which the dynamic loader shares.
 *
 * Socket I/O is synchronous and never waits (nonblocking sockets): a call
 * costs about a syscall. Only `epoll_wait` with a timeout is `nonblocking:
 * true`, so it waits on a worker thread while the event loop runs.
 */

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "isize",
  },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** Waits on a worker thread. */
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32", nonblocking: true },
  /**
   * A short wait on the calling thread (timespec timeout): the thread sleeps
   * in the kernel and a datagram wakes it directly. Linux 5.11, glibc 2.35.
   */
  epoll_pwait2: { parameters: ["i32", "buffer", "i32", "buffer", "pointer"], result: "i32" },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The symbol table, opened on first use (importing never needs --allow-ffi). */
export function dgramLibc(): Symbols {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols;
}

/** Linux constants (x86-64 and aarch64 agree on these). */
export const D = {
  AF_INET: 2,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
  MSG_DONTWAIT: 0x40,
  EPOLL_CLOEXEC: 0o2000000,
  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLLIN: 0x1,
  EINTR: 4,
  EAGAIN: 11,
} as const;

/** The calling thread's errno, right after a synchronous call that failed. */
export function dgramErrno(): number {
  const p = dgramLibc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}
