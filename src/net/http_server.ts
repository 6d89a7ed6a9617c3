/**
 * @module
 * An HTTP/1.1 server on libc sockets whose file responses go out through
 * sendfile(2): the kernel moves page-cache pages to the socket, so large
 * downloads never pass through JS (Deno.serve copies them in 64 KiB writes).
 *
 * It calls a fetch-style handler (`(Request, info) => Response`), like
 * Deno.serve. A body marked by markFileBody (http_file_body.ts) is sent with
 * sendfile; any other body is streamed with send(). Keep-alive, an idle
 * timeout between requests, a header timeout (one deadline for the whole
 * request head, so a client dribbling bytes cannot keep it open), a send
 * timeout without progress, a bound on connections and a smaller one per
 * client address, so that one address holding many idle connections cannot
 * lock the others out. Refused connections are counted and logged (at most one
 * line per reason per 10 s). Malformed requests get a 4xx and are counted; no
 * input, and no client going away mid-transfer, ever stops the accept loop.
 * IPv4 only (the daemon binds an IPv4 address).
 */
import { getLogger } from "@logtape/logtape";
import { formatIpv4, parseIpv4 } from "../wire/mod.ts";
import { C, check, errno, libc } from "./_libc.ts";
import { errorResponse, latin1Bytes } from "./http_head.ts";
import {
  DEFAULT_HEAD_LIMITS,
  type HeadLimits,
  parseRequestHead,
  type RequestHead,
} from "./http_parse.ts";
import { Poller, WAIT_CLOSED, WAIT_TIMEOUT } from "./http_poller.ts";
import { PeerGone, respond, type RespondContext, type Wire } from "./http_respond.ts";
import { type LinkRateOf, Pacer } from "./http_pacer.ts";

const log = getLogger(["mesh", "http"]);

/** What the handler learns about the connection (the shape Deno.serve passes). */
export interface HttpServeInfo {
  readonly remoteAddr: {
    readonly hostname: string;
    readonly port: number;
    readonly transport: "tcp";
  };
}

export type HttpHandler = (req: Request, info: HttpServeInfo) => Response | Promise<Response>;

export interface HttpListenOptions {
  /** IPv4 address to bind; "0.0.0.0" for all. */
  readonly hostname: string;
  /** Port; 0 picks a free one. */
  readonly port: number;
  readonly signal?: AbortSignal;
  /** Open connections at most; more are answered 503 and closed. Default 1024. */
  readonly maxConnections?: number;
  /**
   * Open connections at most from one source address; more are answered 503
   * and closed at once. Default 64. Keep it well below maxConnections: it is
   * what stops one address from taking the whole pool (Infinity turns it off).
   */
  readonly maxPerClient?: number;
  /**
   * Time for a whole request head (and its small body) to arrive: one
   * deadline from the accept (or the request's first byte on a kept-alive
   * connection), not a gap between bytes. Default 10 s.
   */
  readonly headerTimeoutMs?: number;
  /** Time a kept-alive connection may sit between requests. Default 10 s. */
  readonly idleTimeoutMs?: number;
  /** Time a response may make no progress (client not reading). Default 60 s. */
  readonly sendTimeoutMs?: number;
  /** On abort, how long responses in flight may finish. Default 5 s. */
  readonly graceMs?: number;
  readonly limits?: Partial<HeadLimits>;
  /**
   * Large file bodies at most sent at once from worker threads (blocking
   * sendfile); others wait for POLLOUT on the event loop. Default 0: in
   * bench/http.ts the event-loop path matched nginx (0.94-1.02x) while worker
   * threads measured 0.76-0.90x, except on a saturated machine.
   */
  readonly offloadThreads?: number;
  /**
   * Link rate (bytes/s) behind one of our addresses, for pacing large file
   * bodies at fair shares of it (http_pacer.ts); 0 or absent: not paced.
   */
  readonly linkRate?: LinkRateOf;
}

/** Counters of one listener (live object). */
export interface HttpListenerStats {
  accepted: number;
  /** Connections refused with 503, for either reason (refusedPerClient + refusedGlobal). */
  refused: number;
  /** Refused because their address already held maxPerClient connections. */
  refusedPerClient: number;
  /** Refused because maxConnections were open. */
  refusedGlobal: number;
  active: number;
  requests: number;
  /** Requests answered 4xx/5xx by the protocol layer (the app never saw them). */
  malformed: number;
  /** Connections closed for a timeout: header, idle or send. */
  timeouts: number;
  /** Idle kept-alive connections closed to make room at the connection limit. */
  reclaimed: number;
  /** Responses cut short because the client went away. */
  aborted: number;
  sendfileBytes: number;
  streamedBytes: number;
}

export interface HttpListener {
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Resolves once the listener and every connection are closed (after `signal` aborts). */
  readonly finished: Promise<void>;
  readonly stats: Readonly<HttpListenerStats>;
}

const EMPTY = new Uint8Array(0);
const RECV_SIZE = 64 * 1024;
const CONTINUE_100 = latin1Bytes("HTTP/1.1 100 Continue\r\n\r\n");
const SEND_FLAGS = C.MSG_NOSIGNAL | C.MSG_DONTWAIT;
/** Refusal log lines per reason at most one per this long. */
const REFUSAL_LOG_MS = 10_000;
/** Addresses tallied per refusal log window (a spread-out flood is still counted in total). */
const REFUSAL_LOG_ADDRS = 256;

export type RefusalReason = "per_client" | "global";
type Timer = ReturnType<typeof setTimeout>;

/** What one refusal log line says: refusals since the previous line, and who caused most. */
export interface RefusalSummary {
  readonly reason: RefusalReason;
  readonly refused: number;
  /** Address (IPv4 as a number) with the most refusals since the previous line. */
  readonly topIp: number;
  readonly topIpRefused: number;
}

/**
 * Rate-limits refusal logging: the first refusal after a quiet window is
 * reported at once, later ones are summed and reported when the window ends,
 * so a flood costs one line per reason per window, however large it is.
 * Exported for its unit test; timers are injectable for the same reason.
 */
export class RefusalLog {
  readonly #windows = new Map<RefusalReason, {
    lastLineAt: number;
    refused: number;
    byIp: Map<number, number>;
    timer: Timer | undefined;
  }>();
  constructor(
    readonly emit: (s: RefusalSummary) => void,
    readonly windowMs: number = REFUSAL_LOG_MS,
    readonly clock: {
      now(): number;
      setTimer(fn: () => void, ms: number): Timer;
      clearTimer(id: Timer): void;
    } = {
      now: () => performance.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (id) => clearTimeout(id),
    },
  ) {}

  note(reason: RefusalReason, ip: number): void {
    let w = this.#windows.get(reason);
    if (w === undefined) {
      w = { lastLineAt: -Infinity, refused: 0, byIp: new Map(), timer: undefined };
      this.#windows.set(reason, w);
    }
    w.refused++;
    const seen = w.byIp.get(ip);
    if (seen !== undefined) w.byIp.set(ip, seen + 1);
    else if (w.byIp.size < REFUSAL_LOG_ADDRS) w.byIp.set(ip, 1);
    if (w.timer !== undefined) return;
    const wait = w.lastLineAt + this.windowMs - this.clock.now();
    if (wait <= 0) this.#flush(reason);
    else w.timer = this.clock.setTimer(() => this.#flush(reason), wait);
  }

  /** Reports what is pending and stops the timers (at shutdown: none is left running). */
  close(): void {
    for (const reason of this.#windows.keys()) this.#flush(reason);
  }

  #flush(reason: RefusalReason): void {
    const w = this.#windows.get(reason);
    if (w === undefined) return;
    if (w.timer !== undefined) this.clock.clearTimer(w.timer);
    w.timer = undefined;
    if (w.refused === 0) return;
    let topIp = 0;
    let topIpRefused = 0;
    for (const [ip, n] of w.byIp) {
      if (n > topIpRefused) {
        topIp = ip;
        topIpRefused = n;
      }
    }
    const summary = { reason, refused: w.refused, topIp, topIpRefused };
    w.lastLineAt = this.clock.now();
    w.refused = 0;
    w.byIp.clear();
    this.emit(summary);
  }
}

class Conn implements Wire {
  pending: Uint8Array = EMPTY;
  requests = 0;
  /** Waiting for the next request with nothing buffered: may be closed at shutdown. */
  idle = false;
  /** Closed to make room for a new connection (it was idle at the limit). */
  reclaimed = false;
  /** Set at shutdown after the grace period: the next write fails. */
  cancelled = false;
  readonly info: HttpServeInfo;
  constructor(
    readonly fd: number,
    /** Peer IPv4 address as a number: the key of the per-client count. */
    readonly ip: number,
    readonly localIp: number,
    hostname: string,
    port: number,
    readonly acceptedAt: number,
    readonly write: (bytes: Uint8Array, flags?: number) => Promise<void>,
    readonly writable: () => Promise<void>,
  ) {
    this.info = { remoteAddr: { hostname, port, transport: "tcp" } };
  }
}

let dateSecond = -1;
let dateText = "";
function httpDate(): string {
  const s = Math.floor(Date.now() / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

function setIntOpt(fd: number, level: number, name: number, value: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  return libc().setsockopt(fd, level, name, b, 4);
}

/** Opens and binds a non-blocking listening socket. Throws LibcError (EADDRINUSE...). */
function openListener(hostname: string, port: number): { fd: number; port: number } {
  const l = libc();
  const fd = check(
    "socket(AF_INET, SOCK_STREAM)",
    l.socket(C.AF_INET, C.SOCK_STREAM | C.SOCK_NONBLOCK | C.SOCK_CLOEXEC, 0),
  );
  try {
    check("setsockopt(SO_REUSEADDR)", setIntOpt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1));
    const sa = new Uint8Array(16);
    const v = new DataView(sa.buffer);
    v.setUint16(0, C.AF_INET, true);
    v.setUint16(2, port);
    v.setUint32(4, parseIpv4(hostname));
    check(`bind(${hostname}:${port})`, l.bind(fd, sa, 16));
    check("listen", l.listen(fd, 1024));
    const len = new Uint32Array([16]);
    check("getsockname", l.getsockname(fd, sa, new Uint8Array(len.buffer)));
    return { fd, port: v.getUint16(2) };
  } catch (e) {
    l.close(fd);
    throw e;
  }
}

/** Starts serving `handler` on hostname:port. Binding errors are thrown at once. */
export function listenHttp(handler: HttpHandler, opts: HttpListenOptions): HttpListener {
  return new HttpServer(handler, opts);
}

class HttpServer implements HttpListener {
  readonly addr: { readonly hostname: string; readonly port: number };
  readonly finished: Promise<void>;
  readonly stats: HttpListenerStats = {
    accepted: 0,
    refused: 0,
    refusedPerClient: 0,
    refusedGlobal: 0,
    active: 0,
    requests: 0,
    malformed: 0,
    timeouts: 0,
    reclaimed: 0,
    aborted: 0,
    sendfileBytes: 0,
    streamedBytes: 0,
  };
  readonly #handler: HttpHandler;
  readonly #respondCtx: RespondContext;
  readonly #poller: Poller;
  readonly #conns = new Map<number, Conn>();
  /** Open connections per peer address (entries removed at zero). */
  readonly #perClient = new Map<number, number>();
  readonly #refusalLog = new RefusalLog((s) => this.#logRefusals(s));
  readonly #limits: HeadLimits;
  readonly #max: number;
  readonly #maxPerClient: number;
  readonly #headerMs: number;
  readonly #idleMs: number;
  readonly #sendMs: number;
  readonly #graceMs: number;
  readonly #localHost: string;
  #lfd: number;
  #busy: Uint8Array<ArrayBuffer> = EMPTY;
  #busyDate = "";
  #closing = false;
  /** Idle connections closed for room that have not finished closing. */
  #reclaiming = 0;
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #recvBuf = new Uint8Array(RECV_SIZE);
  readonly #peer = new Uint8Array(16);
  readonly #peerLen = new Uint32Array(1);

  constructor(handler: HttpHandler, opts: HttpListenOptions) {
    this.#handler = handler;
    this.#limits = { ...DEFAULT_HEAD_LIMITS, ...opts.limits };
    this.#max = opts.maxConnections ?? 1024;
    this.#maxPerClient = opts.maxPerClient ?? 64;
    if (!(this.#maxPerClient >= 1)) {
      throw new RangeError(`maxPerClient must be at least 1, got ${opts.maxPerClient}`);
    }
    this.#headerMs = opts.headerTimeoutMs ?? 10_000;
    this.#idleMs = opts.idleTimeoutMs ?? 10_000;
    this.#sendMs = opts.sendTimeoutMs ?? 60_000;
    this.#graceMs = opts.graceMs ?? 5_000;
    this.#respondCtx = {
      stats: this.stats,
      sendTimeoutMs: this.#sendMs,
      othersReady: () => this.#poller.othersReady(),
      offload: { free: opts.offloadThreads ?? 0 },
      ...(opts.linkRate ? { pacer: new Pacer(opts.linkRate) } : {}),
    };
    const { fd, port } = openListener(opts.hostname, opts.port);
    this.#lfd = fd;
    this.addr = { hostname: opts.hostname, port };
    this.#localHost = `${opts.hostname}:${port}`;
    try {
      this.#poller = new Poller();
      this.#poller.watch(fd, C.EPOLLIN, () => this.#accept());
    } catch (e) {
      libc().close(fd);
      throw e;
    }
    this.finished = this.#poller.run((e) => log.warn("http poll error", { error: String(e) }));
    if (opts.signal?.aborted) this.#shutdown();
    else opts.signal?.addEventListener("abort", () => this.#shutdown(), { once: true });
  }

  #accept(): void {
    const l = libc();
    // bounded per wake-up, so a connect flood cannot starve the connections
    for (let i = 0; i < 64 && this.#lfd >= 0; i++) {
      this.#peerLen[0] = 16;
      const fd = l.accept4(
        this.#lfd,
        this.#peer,
        new Uint8Array(this.#peerLen.buffer),
        C.SOCK_NONBLOCK | C.SOCK_CLOEXEC,
      );
      if (fd < 0) {
        const e = errno();
        if (e === C.EAGAIN) return;
        if (e === C.EINTR || e === C.ECONNABORTED) continue;
        // out of descriptors: level-triggered readiness would spin, so pause accepting
        log.warn("http accept failed", { errno: e });
        this.#pauseAccept();
        return;
      }
      const v = new DataView(this.#peer.buffer);
      const ip = v.getUint32(4);
      // per client first: a flooding address is refused as such, never as "global"
      const held = this.#perClient.get(ip) ?? 0;
      if (held >= this.#maxPerClient) {
        this.stats.refusedPerClient++;
        this.#refuse(fd, "per_client", ip);
        continue;
      }
      if (this.#conns.size - this.#reclaiming >= this.#max && !this.#reclaimIdle()) {
        this.stats.refusedGlobal++;
        this.#refuse(fd, "global", ip);
        continue;
      }
      this.#perClient.set(ip, held + 1);
      setIntOpt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
      const conn: Conn = new Conn(
        fd,
        ip,
        this.#respondCtx.pacer ? this.#localIp(fd) : 0,
        formatIpv4(ip),
        v.getUint16(2),
        performance.now(),
        (bytes, flags) => this.#writeAll(conn, bytes, flags ?? 0),
        () => this.#waitWritable(conn),
      );
      this.#conns.set(fd, conn);
      this.stats.accepted++;
      this.stats.active = this.#conns.size;
      void this.#serve(conn);
    }
  }

  /**
   * At the connection limit, closes the longest-open connection that sits
   * idle between requests, as nginx reuses its idle keep-alive connections:
   * when a cluster's nodes move from the kernel to the initramfs, each may
   * open a new connection while its last one idles, and refusing the new
   * ones would fail boots for connections nobody uses. False when none is idle.
   */
  #reclaimIdle(): boolean {
    for (const c of this.#conns.values()) {
      // a kept-alive one between requests; one that never sent a request is
      // under its header deadline instead
      if (!c.idle || c.reclaimed || c.requests === 0) continue;
      c.reclaimed = true;
      this.#reclaiming++;
      this.stats.reclaimed++;
      this.#poller.cancel(c.fd);
      return true;
    }
    return false;
  }

  /** Our address on an accepted connection (0 if the kernel will not say). */
  #localIp(fd: number): number {
    this.#peerLen[0] = 16;
    const sa = new Uint8Array(16);
    if (libc().getsockname(fd, sa, new Uint8Array(this.#peerLen.buffer)) < 0) return 0;
    return new DataView(sa.buffer).getUint32(4);
  }

  /** A short 503 if the socket takes it without waiting, then close at once. */
  #refuse(fd: number, reason: RefusalReason, ip: number): void {
    this.stats.refused++;
    const date = httpDate();
    if (date !== this.#busyDate) {
      this.#busyDate = date;
      this.#busy = errorResponse(503, date);
    }
    const l = libc();
    l.send(fd, this.#busy, BigInt(this.#busy.length), SEND_FLAGS);
    l.close(fd);
    this.#refusalLog.note(reason, ip);
  }

  #logRefusals(s: RefusalSummary): void {
    const fields: Record<string, unknown> = {
      reason: s.reason,
      refused: s.refused,
      topIp: formatIpv4(s.topIp),
      topIpRefused: s.topIpRefused,
      limit: s.reason === "per_client" ? this.#maxPerClient : this.#max,
    };
    if (s.reason === "global") {
      // the refused are not necessarily the cause: name who holds the most
      let busiest = -1;
      let most = 0;
      for (const [ip, n] of this.#perClient) {
        if (n > most) {
          busiest = ip;
          most = n;
        }
      }
      if (busiest >= 0) {
        fields.busiestIp = formatIpv4(busiest);
        fields.busiestConnections = most;
      }
    }
    log.warn("http connections refused", fields);
  }

  #pauseAccept(): void {
    if (this.#lfd < 0 || this.#pauseTimer !== undefined) return;
    this.#poller.unwatch(this.#lfd);
    this.#pauseTimer = setTimeout(() => {
      this.#pauseTimer = undefined;
      if (this.#lfd >= 0) this.#poller.watch(this.#lfd, C.EPOLLIN, () => this.#accept());
    }, 100);
  }

  async #serve(conn: Conn): Promise<void> {
    try {
      for (;;) {
        const keep = await this.#exchange(conn);
        conn.requests++;
        if (!keep || this.#closing) return;
      }
    } catch (e) {
      if (e instanceof PeerGone) return;
      log.warn("http connection failed", { ip: conn.info.remoteAddr.hostname, error: String(e) });
    } finally {
      this.#close(conn);
    }
  }

  #close(conn: Conn): void {
    if (conn.reclaimed) this.#reclaiming--;
    this.#respondCtx.pacer?.closed(conn.fd);
    this.#poller.forget(conn.fd);
    libc().close(conn.fd);
    this.#conns.delete(conn.fd);
    const held = this.#perClient.get(conn.ip) ?? 1;
    if (held <= 1) this.#perClient.delete(conn.ip);
    else this.#perClient.set(conn.ip, held - 1);
    this.stats.active = this.#conns.size;
    if (this.#closing) this.#maybeStop();
  }

  /** Reads one request and answers it. True when the connection stays open. */
  async #exchange(conn: Conn): Promise<boolean> {
    const parsed = await this.#readHead(conn);
    if (parsed === null) throw new PeerGone();
    if (parsed.kind === "error") {
      this.stats.malformed++;
      log.debug("http malformed request", {
        ip: conn.info.remoteAddr.hostname,
        status: parsed.status,
        reason: parsed.reason,
      });
      await conn.write(errorResponse(parsed.status, httpDate()));
      await this.#linger(conn);
      return false;
    }
    const head = parsed.head;
    const body = await this.#readBody(conn, head);
    this.stats.requests++;
    let request: Request;
    try {
      const url = head.target.startsWith("/")
        ? `http://${head.host || this.#localHost}${head.target}`
        : head.target;
      const hasBody = head.method !== "GET" && head.method !== "HEAD" && body !== null;
      request = new Request(url, {
        method: head.method,
        headers: head.headers as [string, string][],
        ...(hasBody ? { body } : {}),
      });
    } catch (e) {
      // forbidden methods (CONNECT, TRACE), unparsable URLs
      this.stats.malformed++;
      log.debug("http malformed request", {
        ip: conn.info.remoteAddr.hostname,
        status: 400,
        reason: String(e),
      });
      await conn.write(errorResponse(400, httpDate()));
      return false;
    }
    let response: Response;
    try {
      response = await this.#handler(request, conn.info);
      if (!(response instanceof Response)) throw new TypeError("handler did not return a Response");
    } catch (e) {
      log.error("http handler failed", { path: head.target, error: String(e) });
      response = new Response("internal error\n", { status: 500 });
    }
    return await respond(
      conn,
      {
        method: head.method,
        keepAlive: head.keepAlive && !this.#closing,
        http10: head.minor === 0,
        date: httpDate(),
      },
      response,
      this.#respondCtx,
    );
  }

  /**
   * After an error answer: stop sending, then drop what the client still
   * sends for a moment (bounded), so that closing does not reset the
   * connection before the client has read the answer.
   */
  async #linger(conn: Conn): Promise<void> {
    const l = libc();
    l.shutdown(conn.fd, C.SHUT_WR);
    const deadline = performance.now() + 1000;
    for (let drained = 0; drained < 1024 * 1024;) {
      const n = Number(l.recv(conn.fd, this.#recvBuf, BigInt(RECV_SIZE), C.MSG_DONTWAIT));
      if (n === 0) return;
      if (n > 0) {
        drained += n;
        continue;
      }
      if (errno() !== C.EAGAIN) return;
      const ev = await this.#poller.wait(conn.fd, C.EPOLLIN | C.EPOLLRDHUP, deadline);
      if (ev === WAIT_TIMEOUT || ev === WAIT_CLOSED) return;
    }
  }

  /** Receives what is queued; >0 bytes, 0 at end of stream, -1 when nothing is queued. */
  #recv(conn: Conn): number {
    const n = Number(libc().recv(conn.fd, this.#recvBuf, BigInt(RECV_SIZE), C.MSG_DONTWAIT));
    if (n > 0) {
      const got = this.#recvBuf.subarray(0, n);
      if (conn.pending.length === 0) conn.pending = got.slice();
      else {
        const joined = new Uint8Array(conn.pending.length + n);
        joined.set(conn.pending);
        joined.set(got, conn.pending.length);
        conn.pending = joined;
      }
      return n;
    }
    if (n === 0) return 0;
    const e = errno();
    if (e === C.EAGAIN || e === C.EINTR) return -1;
    throw new PeerGone();
  }

  async #waitReadable(conn: Conn, deadline: number): Promise<void> {
    if (conn.cancelled) throw new PeerGone();
    // The poller checks deadlines only every so often and reports readiness
    // first, so a client sending a byte just before each check would never be
    // timed out: the deadline is checked here as well.
    if (performance.now() >= deadline) {
      this.stats.timeouts++;
      throw new PeerGone();
    }
    const ev = await this.#poller.wait(conn.fd, C.EPOLLIN | C.EPOLLRDHUP, deadline);
    if (ev === WAIT_TIMEOUT) {
      this.stats.timeouts++;
      throw new PeerGone();
    }
    if (ev === WAIT_CLOSED) throw new PeerGone();
  }

  async #readHead(conn: Conn) {
    const fresh = conn.requests === 0;
    let headStart = fresh ? conn.acceptedAt : conn.pending.length > 0 ? performance.now() : -1;
    for (;;) {
      if (conn.pending.length > 0) {
        const r = parseRequestHead(conn.pending, conn.pending.length, this.#limits);
        if (r.kind !== "incomplete") return r;
      }
      const n = this.#recv(conn);
      if (n > 0) {
        if (headStart < 0) headStart = performance.now();
        continue;
      }
      if (n === 0) return null;
      // nothing of a request yet: shutdown may close this connection at once
      const idle = conn.pending.length === 0;
      if (idle && this.#closing) return null;
      conn.idle = idle;
      try {
        await this.#waitReadable(
          conn,
          headStart < 0 ? performance.now() + this.#idleMs : headStart + this.#headerMs,
        );
      } finally {
        conn.idle = false;
      }
    }
  }

  /** The request body (small, Content-Length only), or null without one. */
  async #readBody(conn: Conn, head: RequestHead): Promise<Uint8Array<ArrayBuffer> | null> {
    const need = head.headLength + head.contentLength;
    if (head.contentLength > 0 && conn.pending.length < need) {
      if (head.expectContinue) await conn.write(CONTINUE_100);
      const deadline = performance.now() + this.#headerMs;
      while (conn.pending.length < need) {
        const n = this.#recv(conn);
        if (n === 0) throw new PeerGone();
        if (n < 0) await this.#waitReadable(conn, deadline);
      }
    }
    const body = head.contentLength > 0 ? conn.pending.slice(head.headLength, need) : null;
    conn.pending = conn.pending.length > need ? conn.pending.subarray(need) : EMPTY;
    return body;
  }

  async #waitWritable(conn: Conn): Promise<void> {
    if (conn.cancelled) throw new PeerGone();
    const ev = await this.#poller.wait(conn.fd, C.EPOLLOUT, performance.now() + this.#sendMs);
    if (ev === WAIT_TIMEOUT) {
      this.stats.timeouts++;
      throw new PeerGone();
    }
    if (ev === WAIT_CLOSED) throw new PeerGone();
  }

  /** Sends all of `bytes`, waiting for room as needed. Throws PeerGone when the peer is gone. */
  async #writeAll(conn: Conn, bytes: Uint8Array, flags: number): Promise<void> {
    let off = 0;
    while (off < bytes.length) {
      if (conn.cancelled) throw new PeerGone();
      const view = off === 0 ? bytes : bytes.subarray(off);
      const n = Number(
        libc().send(
          conn.fd,
          view as Uint8Array<ArrayBuffer>,
          BigInt(view.length),
          SEND_FLAGS | flags,
        ),
      );
      if (n >= 0) {
        off += n;
        continue;
      }
      const e = errno();
      if (e === C.EINTR) continue;
      if (e === C.EAGAIN) {
        await this.#waitWritable(conn);
        continue;
      }
      throw new PeerGone();
    }
  }

  #shutdown(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#pauseTimer !== undefined) clearTimeout(this.#pauseTimer);
    this.#refusalLog.close();
    if (this.#lfd >= 0) {
      this.#poller.unwatch(this.#lfd);
      libc().close(this.#lfd);
      this.#lfd = -1;
    }
    for (const c of this.#conns.values()) if (c.idle) this.#poller.cancel(c.fd);
    this.#graceTimer = setTimeout(() => {
      for (const c of this.#conns.values()) {
        c.cancelled = true;
        this.#poller.cancel(c.fd);
        // wakes a blocking sendfile on a worker thread (it returns EPIPE)
        libc().shutdown(c.fd, C.SHUT_RDWR);
      }
    }, this.#graceMs);
    this.#maybeStop();
  }

  #maybeStop(): void {
    if (this.#conns.size > 0) return;
    if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
    this.#poller.stop();
  }
}
