/**
 * @module
 * rtnetlink I/O, thin: requests go out on a NETLINK_ROUTE socket of the
 * current network namespace and the replies are awaited in the one reactor
 * (never a blocking read, never a spin). Encoding and decoding are in
 * netlink.ts. Each request opens its own socket, so concurrent requests
 * cannot read each other's replies; sequence numbers still tell a reply from
 * anything else queued.
 */
import { getLogger } from "@logtape/logtape";
import { DecodeError } from "../errors.ts";
import { C, check, errno, libc, LibcError } from "./_libc.ts";
import {
  decodeAddr,
  decodeDone,
  decodeError,
  decodeLink,
  encodeDelAddr,
  encodeGetAddr,
  encodeGetLink,
  encodeNewAddr,
  type LinkInfo,
  linkInfoOf,
  NETLINK,
  type NlMessage,
  parseMessages,
  parseSpeed,
  RTNL,
} from "./netlink.ts";
import { PolledFd } from "./polled_fd.ts";

export const log = getLogger(["mesh", "net", "netlink"]);

/** How long the kernel may take to answer one request (it answers in microseconds). */
const REPLY_TIMEOUT_MS = 2000;
/** A dump datagram is at most 32 KiB (netlink_dump); twice that leaves room. */
const RECV_MAX = 64 * 1024;
/** Notifications queue here while the loop is busy; overflow costs a full rescan. */
export const MONITOR_RCVBUF = 1 << 20;
/** Datagrams a monitor reads per wake-up before the loop serves others. */
export const MONITOR_BURST = 64;
/** A dump interrupted by a change (NLM_F_DUMP_INTR) is retried this often. */
const DUMP_TRIES = 3;
const SOCKADDR_NL_LEN = 12;

let lastSeq = 0;
function nextSeq(): number {
  lastSeq = lastSeq >= 0x7fffffff ? 1 : lastSeq + 1;
  return lastSeq;
}

/** A request the kernel refused. */
export class NetlinkError extends Error {
  override name = "NetlinkError";
  constructor(readonly request: string, readonly errno: number, detail: string | null) {
    super(`${request} failed: errno ${errno}${detail ? ` (${detail})` : ""}`);
  }
}

/** What a non-blocking read found. "lost": ENOBUFS or a cut datagram, messages are gone. */
type Received = Uint8Array | null | "lost";

function setOpt(fd: number, level: number, name: number, value: number): boolean {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  return libc().setsockopt(fd, level, name, b, 4) === 0;
}

/** A NETLINK_ROUTE socket, bound to a kernel-chosen port id and `groups`. */
/** @internal A NETLINK_ROUTE socket (link_monitor.ts subscribes one to groups). */
export class NetlinkSocket {
  readonly #io: PolledFd;
  readonly #buf = new Uint8Array(RECV_MAX);
  readonly #from = new Uint8Array(SOCKADDR_NL_LEN);
  readonly #fromLen = new Uint8Array(4);
  readonly #fromView = new DataView(this.#from.buffer);
  readonly #fromLenView = new DataView(this.#fromLen.buffer);

  private constructor(fd: number) {
    this.#io = new PolledFd(fd);
  }

  static open(groups = 0, rcvbuf = 0): NetlinkSocket {
    const l = libc();
    const fd = check(
      "socket(AF_NETLINK)",
      l.socket(C.AF_NETLINK, C.SOCK_RAW | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, C.NETLINK_ROUTE),
    );
    try {
      // Both are optional (Linux 4.2 / 4.12): without them errors are longer and terser.
      setOpt(fd, C.SOL_NETLINK, C.NETLINK_CAP_ACK, 1);
      setOpt(fd, C.SOL_NETLINK, C.NETLINK_EXT_ACK, 1);
      if (rcvbuf > 0 && !setOpt(fd, C.SOL_SOCKET, C.SO_RCVBUF, rcvbuf)) {
        throw new LibcError("setsockopt(SO_RCVBUF)", errno());
      }
      const sa = new Uint8Array(SOCKADDR_NL_LEN); // struct sockaddr_nl; nl_pid 0: kernel picks
      const v = new DataView(sa.buffer);
      v.setUint16(0, C.AF_NETLINK, true);
      v.setUint32(8, groups, true);
      check("bind(AF_NETLINK)", l.bind(fd, sa, SOCKADDR_NL_LEN));
    } catch (e) {
      l.close(fd);
      throw e;
    }
    return new NetlinkSocket(fd);
  }

  get fd(): number {
    return this.#io.fd;
  }

  send(msg: Uint8Array<ArrayBuffer>, what: string): void {
    const rc = Number(libc().send(this.#io.fd, msg, BigInt(msg.length), C.MSG_DONTWAIT));
    if (rc < 0) throw new LibcError(`send(${what})`, errno());
  }

  /**
   * The next datagram from the kernel (a view of the socket's buffer, valid
   * until the next read), or null when none is queued. Never blocks.
   */
  tryRecv(): Received {
    for (;;) {
      this.#fromLenView.setUint32(0, SOCKADDR_NL_LEN, true);
      // MSG_TRUNC: the result is the datagram's real length, so a cut one is seen.
      const n = Number(
        libc().recvfrom(
          this.#io.fd,
          this.#buf,
          BigInt(RECV_MAX),
          C.MSG_DONTWAIT | C.MSG_TRUNC,
          this.#from,
          this.#fromLen,
        ),
      );
      if (n < 0) {
        const e = errno();
        if (e === C.EAGAIN) return null;
        if (e === C.EINTR) continue;
        if (e === C.ENOBUFS) return "lost";
        throw new LibcError("recvfrom(AF_NETLINK)", e);
      }
      if (n > RECV_MAX) return "lost";
      // Only the kernel (port id 0) speaks for the routing tables.
      if (this.#fromView.getUint32(4, true) !== 0) continue;
      return this.#buf.subarray(0, n);
    }
  }

  wait(ms: number): Promise<boolean> {
    return this.#io.waitReadable(ms);
  }

  close(): void {
    this.#io.close();
  }
}

interface Exchange {
  /** The messages answering our request (NLMSG_DONE and the final error left out). */
  readonly messages: NlMessage[];
  /** The final NLMSG_ERROR's errno (0: acked or no error), and its text. */
  readonly errno: number;
  readonly detail: string | null;
  /** Some message carried NLM_F_DUMP_INTR. */
  readonly interrupted: boolean;
}

/** Sends one request and reads until its NLMSG_DONE or NLMSG_ERROR. */
async function exchange(
  build: (seq: number) => Uint8Array<ArrayBuffer>,
  what: string,
): Promise<Exchange> {
  const sock = NetlinkSocket.open();
  try {
    const seq = nextSeq();
    sock.send(build(seq), what);
    const deadline = performance.now() + REPLY_TIMEOUT_MS;
    const messages: NlMessage[] = [];
    let interrupted = false;
    for (;;) {
      const got = sock.tryRecv();
      if (got === "lost") throw new Error(`netlink ${what}: reply lost (ENOBUFS or truncated)`);
      if (got === null) {
        const left = deadline - performance.now();
        if (left <= 0 || !(await sock.wait(left))) {
          throw new Error(`netlink ${what}: no reply within ${REPLY_TIMEOUT_MS} ms`);
        }
        continue;
      }
      // A copy: the payload views outlive the socket's buffer.
      for (const m of parseMessages(got.slice())) {
        if (m.seq !== seq) continue;
        if ((m.flags & NETLINK.NLM_F_DUMP_INTR) !== 0) interrupted = true;
        if (m.type === NETLINK.NLMSG_ERROR) {
          const err = decodeError(m);
          return { messages, errno: err.errno, detail: err.message, interrupted };
        }
        if (m.type === NETLINK.NLMSG_DONE) {
          return { messages, errno: decodeDone(m), detail: null, interrupted };
        }
        if (m.type !== NETLINK.NLMSG_NOOP) messages.push(m);
      }
    }
  } finally {
    sock.close();
  }
}

/** A dump's messages; retried when a concurrent change interrupted it. */
async function dump(build: (seq: number) => Uint8Array<ArrayBuffer>, what: string) {
  for (let attempt = 1;; attempt++) {
    const r = await exchange(build, what);
    if (r.errno !== 0) throw new NetlinkError(what, r.errno, r.detail);
    if (!r.interrupted || attempt >= DUMP_TRIES) return r.messages;
  }
}

/** Mb/s from sysfs; null when unreadable (a link that is down says EINVAL) or unknown. */
/** @internal */
export function readSpeed(name: string): number | null {
  try {
    return parseSpeed(Deno.readTextFileSync(`/sys/class/net/${name}/speed`));
  } catch {
    return null;
  }
}

/** Decodes what a dump or notification carries; a malformed message is logged and skipped. */
/** @internal */
export function decoded<T>(m: NlMessage, decode: (payload: Uint8Array) => T): T | null {
  try {
    return decode(m.payload);
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e;
    log.warn("netlink message skipped", { type: m.type, error: e.message });
    return null;
  }
}

/** Every link of the current network namespace. */
export async function listLinks(): Promise<LinkInfo[]> {
  const out: LinkInfo[] = [];
  for (const m of await dump(encodeGetLink, "RTM_GETLINK")) {
    if (m.type !== RTNL.RTM_NEWLINK) continue;
    const l = decoded(m, decodeLink);
    // AF_BRIDGE messages describe bridge ports, not links.
    if (l && l.family === RTNL.AF_UNSPEC) out.push(linkInfoOf(l, readSpeed(l.name)));
  }
  return out;
}

/** One IPv4 address of a link. */
export interface LinkAddress {
  readonly ifindex: number;
  /** u32 address. */
  readonly ip: number;
  readonly prefix: number;
}

/** Every IPv4 address of the current network namespace, primaries first. */
export async function listAddresses(): Promise<LinkAddress[]> {
  const out: LinkAddress[] = [];
  for (const m of await dump(encodeGetAddr, "RTM_GETADDR")) {
    if (m.type !== RTNL.RTM_NEWADDR) continue;
    const a = decoded(m, decodeAddr);
    const ip = a?.local ?? a?.address ?? null;
    if (a && a.family === RTNL.AF_INET && ip !== null) {
      out.push({ ifindex: a.ifindex, ip, prefix: a.prefix });
    }
  }
  return out;
}

/** Adds `ip/prefix` (with its broadcast address) to a link; "exists" when it is there. */
export async function addAddress(
  ifindex: number,
  ip: number,
  prefix: number,
): Promise<"added" | "exists"> {
  const r = await exchange((seq) => encodeNewAddr(seq, ifindex, ip, prefix), "RTM_NEWADDR");
  if (r.errno === 0) return "added";
  if (r.errno === C.EEXIST) return "exists";
  throw new NetlinkError("RTM_NEWADDR", r.errno, r.detail);
}

/**
 * What RTM_DELADDR answers when there is nothing to delete: EADDRNOTAVAIL (no
 * such address), ENODEV (no such link), ENOENT/ESRCH (no such entry).
 */
const ABSENT: readonly number[] = [C.EADDRNOTAVAIL, C.ENODEV, C.ENOENT, C.ESRCH];

/** Removes `ip/prefix` from a link; "absent" when it (or the link) is not there. */
export async function deleteAddress(
  ifindex: number,
  ip: number,
  prefix: number,
): Promise<"deleted" | "absent"> {
  const r = await exchange((seq) => encodeDelAddr(seq, ifindex, ip, prefix), "RTM_DELADDR");
  if (r.errno === 0) return "deleted";
  if (ABSENT.includes(r.errno)) return "absent";
  throw new NetlinkError("RTM_DELADDR", r.errno, r.detail);
}
