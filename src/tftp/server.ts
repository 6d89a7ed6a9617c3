/**
 * @module
 * The TFTP server: a listener (port 69 by default) that decodes requests and
 * starts one transfer per RRQ on its own ephemeral socket. Read-only. The
 * loop never dies from input: a bad packet is counted and logged at debug.
 */
import { getLogger } from "@logtape/logtape";
import { realRoot } from "../files/mod.ts";
import { DgramSocket, Reactor } from "../net/mod.ts";
import { formatIpv4, parseIpv4 } from "../wire/mod.ts";
import { dirSource, type FileSource, type TftpFile, type TransferMode } from "./files.ts";
import { negotiate } from "./negotiate.ts";
import { decodePacket, encodeError, ErrorCode, Opcode, type Packet } from "./packet.ts";
import { type RunningTransfer, startTransfer } from "./transfer.ts";

const log = getLogger(["mesh", "tftp"]);

/** What the daemon records as a node event for each request. */
export interface TransferStats {
  readonly ip: string;
  readonly port: number;
  readonly file: string;
  readonly mode: string;
  /** Bytes acknowledged by the client. */
  readonly bytes: number;
  /** Size of the file as sent (0 when refused). */
  readonly size: number;
  readonly durationMs: number;
  readonly retransmits: number;
  readonly blksize: number;
  readonly windowsize: number;
  readonly ok: boolean;
  readonly error?: string;
  /** The client only asked for the size (OACK, then its ERROR): no transfer was meant. */
  readonly sizeProbe?: boolean;
}

export interface TftpCounters {
  /** Datagrams received on the listener. */
  readonly received: number;
  /** Read requests received (including refused ones). */
  readonly requests: number;
  readonly completed: number;
  readonly failed: number;
  /** Clients that stopped right after the OACK to learn a file's size (OVMF). */
  readonly sizeProbes: number;
  /** Requests answered with an ERROR (write requests, missing files, limits). */
  readonly refused: number;
  /** Datagrams that could not be decoded. */
  readonly malformed: number;
  readonly active: number;
  /**
   * ERROR packets (code 0, "server shutting down") the kernel took at
   * close(): one per transfer running or being opened, so its client stops
   * at once instead of retransmitting until its own timeout.
   */
  readonly shutdownErrors: number;
  /** Bytes acknowledged by clients, over all transfers. */
  readonly bytes: number;
  /** Blocks sent again after a timeout or a duplicate ACK, over all transfers. */
  readonly retransmits: number;
  /** ERROR packets sent for refusals and at shutdown, by TFTP error code. */
  readonly errorsSent: Readonly<Record<string, number>>;
  /** Failed transfers by why: timeout, client-error, server-closed, other. */
  readonly failures: Readonly<Record<string, number>>;
}

/** A failed transfer's reason as a bounded class (the reason itself names files and codes). */
export function failureClass(error: string | undefined): string {
  if (error === undefined) return "other";
  if (error === "timeout") return "timeout";
  if (error.startsWith("client error")) return "client-error";
  if (error === "server closed") return "server-closed";
  return "other";
}

/** What a client is told when the server closes under its transfer. */
export const SHUTDOWN_MESSAGE = "server shutting down";

export interface TftpServerOptions {
  /** Address to bind; also the source address of transfer sockets. */
  readonly hostname: string;
  readonly port: number;
  /** Directory served (ignored when `source` is given). */
  readonly root?: string;
  readonly source?: FileSource;
  /** Concurrent transfers; default 1000. */
  readonly maxTransfers?: number;
  /** Concurrent transfers per client IP; default 32. */
  readonly perClient?: number;
  /** Base retransmission timeout; default 1000 ms (a client's `timeout` option wins). */
  readonly timeoutMs?: number;
  /**
   * Whether a client's RFC 2349 `timeout` replaces `timeoutMs` as the base
   * retransmission time (default true). curl always asks for 6 s, so a lossy
   * link stalls 6 s per loss; false keeps the server's shorter timer while
   * still acknowledging the option.
   */
  readonly honorClientTimeout?: boolean;
  /** Cap of the exponential backoff; default 8000 ms. */
  readonly maxTimeoutMs?: number;
  /** Consecutive timeouts before a transfer is abandoned; default 5. */
  readonly retries?: number;
  /** Files up to this size are served from memory; default 4 MiB. */
  readonly memoryCacheMaxBytes?: number;
  /** Path MTU used to clamp blksize; default 1500 (blksize <= 1468). */
  readonly mtu?: number;
  /** Upper bound for windowsize; default 64. */
  readonly maxWindowsize?: number;
  readonly onTransfer?: (stats: TransferStats) => void;
  readonly signal?: AbortSignal;
}

export interface TftpServer {
  readonly addr: Deno.NetAddr;
  stats(): TftpCounters;
  /**
   * Stops listening and ends running transfers, each after an ERROR (code 0,
   * "server shutting down") to its client.
   */
  close(): Promise<void>;
  /** Settles when the listener loop has ended. */
  readonly finished: Promise<void>;
}

/** The counters as the server keeps them (TftpCounters' numbers, writable). */
type Counters = {
  -readonly [K in Exclude<keyof TftpCounters, "errorsSent" | "failures">]: TftpCounters[K];
};

/** Starts a TFTP server; resolves once the listener is bound. */
export async function startTftpServer(opts: TftpServerOptions): Promise<TftpServer> {
  let source = opts.source;
  if (!source) {
    if (opts.root === undefined) throw new TypeError("startTftpServer needs root or source");
    const memoryCacheMaxBytes = opts.memoryCacheMaxBytes ?? 4 * 1024 * 1024;
    source = dirSource(await realRoot(opts.root), { memoryCacheMaxBytes });
  }
  const files = source;
  const maxTransfers = opts.maxTransfers ?? 1000;
  const perClient = opts.perClient ?? 32;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const maxTimeoutMs = opts.maxTimeoutMs ?? 8000;
  const retries = opts.retries ?? 5;
  const counters: Counters = {
    received: 0,
    requests: 0,
    completed: 0,
    failed: 0,
    sizeProbes: 0,
    refused: 0,
    malformed: 0,
    active: 0,
    shutdownErrors: 0,
    bytes: 0,
    retransmits: 0,
  };
  const errorsSent: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const countError = (code: number) => {
    errorsSent[String(code)] = (errorsSent[String(code)] ?? 0) + 1;
  };
  const transfers = new Map<string, RunningTransfer>();
  // Clients whose RRQ is being served, by "ip:port" (set before any await: a
  // duplicated RRQ arriving while the file is being opened must not start a
  // second transfer).
  const busy = new Map<string, Deno.NetAddr>();
  const perIp = new Map<string, number>();
  let closed = false;

  let bindIp: number;
  try {
    bindIp = parseIpv4(opts.hostname);
  } catch {
    throw new TypeError(`tftp: ${opts.hostname} is not an IPv4 address`);
  }
  // The listener and every transfer socket wait in the process's one reactor.
  const reactor = Reactor.shared();
  const listener = DgramSocket.open({ address: bindIp, port: opts.port });
  const addr: Deno.NetAddr = { transport: "udp", hostname: opts.hostname, port: listener.port };

  function report(stats: TransferStats): void {
    try {
      opts.onTransfer?.(stats);
    } catch (e) {
      log.error("transfer hook failed", { error: String(e) });
    }
  }

  /** Sends an ERROR from the listener's port (a client without a transfer has no TID yet). */
  function sendFromListener(to: Deno.NetAddr, code: number, message: string): number {
    const packet = encodeError(code, message) as Uint8Array<ArrayBuffer>;
    return listener.sendTo(packet, parseIpv4(to.hostname), to.port);
  }

  function refuse(to: Deno.NetAddr, code: number, message: string): void {
    counters.refused++;
    countError(code);
    const err = sendFromListener(to, code, message);
    if (err !== 0) log.debug("error reply not sent", { errno: err, client: to.hostname });
  }

  function refusedStats(remote: Deno.NetAddr, file: string, mode: string, error: string) {
    report({
      ip: remote.hostname,
      port: remote.port,
      file,
      mode,
      bytes: 0,
      size: 0,
      durationMs: 0,
      retransmits: 0,
      blksize: 0,
      windowsize: 0,
      ok: false,
      error,
    });
  }

  async function handleRead(req: Packet & { op: 1 }, remote: Deno.NetAddr): Promise<void> {
    counters.requests++;
    const key = `${remote.hostname}:${remote.port}`;
    // A retransmitted RRQ (our OACK or DATA 1 was lost) must not start a second transfer.
    if (busy.has(key)) return;
    if (req.mode !== "octet" && req.mode !== "netascii") {
      refuse(remote, ErrorCode.ILLEGAL_OPERATION, `unsupported mode ${req.mode}`);
      refusedStats(remote, req.file, req.mode, "unsupported mode");
      return;
    }
    if (counters.active >= maxTransfers) {
      refuse(remote, ErrorCode.NOT_DEFINED, "server busy");
      refusedStats(remote, req.file, req.mode, "server busy");
      return;
    }
    const mine = perIp.get(remote.hostname) ?? 0;
    if (mine >= perClient) {
      refuse(remote, ErrorCode.NOT_DEFINED, "too many transfers from this client");
      refusedStats(remote, req.file, req.mode, "per-client limit");
      return;
    }
    // Reserve the slot before any await so a storm cannot overshoot the limits.
    busy.set(key, remote);
    counters.active++;
    perIp.set(remote.hostname, mine + 1);
    let file: TftpFile | null = null;
    const started = performance.now();
    try {
      const opened = await files.open(req.file, req.mode as TransferMode);
      if (!("size" in opened)) {
        const missing = opened.reason === "not-found" || opened.reason === "not-file";
        refuse(
          remote,
          missing ? ErrorCode.FILE_NOT_FOUND : ErrorCode.ACCESS_VIOLATION,
          missing ? "file not found" : "access violation",
        );
        log.info("request refused", {
          client: remote.hostname,
          file: req.file,
          reason: opened.reason,
          detail: opened.detail,
        });
        refusedStats(remote, req.file, req.mode, opened.reason);
        return;
      }
      file = opened;
      const neg = negotiate(req.options, file.size, {
        mtu: opts.mtu ?? 1500,
        maxWindowsize: opts.maxWindowsize ?? 64,
      });
      const base = opts.honorClientTimeout === false ? timeoutMs : (neg.timeoutMs ?? timeoutMs);
      if (closed) return;
      let socket: DgramSocket;
      try {
        socket = DgramSocket.open({ address: bindIp, port: 0 });
      } catch (e) {
        // Out of descriptors or ports: the client may retry later.
        log.warn("transfer socket not opened", { client: remote.hostname, error: String(e) });
        refuse(remote, ErrorCode.NOT_DEFINED, "server busy");
        refusedStats(remote, req.file, req.mode, "no socket");
        return;
      }
      const running = startTransfer({
        reactor,
        socket,
        clientIp: parseIpv4(remote.hostname),
        clientPort: remote.port,
        file,
        oack: neg.oack,
        now: () => reactor.now(),
        session: {
          size: file.size,
          blksize: neg.blksize,
          windowsize: neg.windowsize,
          oack: neg.oack !== null,
          timeoutMs: base,
          maxTimeoutMs: Math.max(base, maxTimeoutMs),
          retries,
        },
      });
      transfers.set(key, running);
      const out = await running.done;
      counters.malformed += out.malformed;
      counters.bytes += out.bytes;
      counters.retransmits += out.retransmits;
      if (out.ok) counters.completed++;
      else if (out.sizeProbe === true) counters.sizeProbes++;
      else {
        counters.failed++;
        const why = failureClass(closed ? "server closed" : out.error);
        failures[why] = (failures[why] ?? 0) + 1;
      }
      const stats: TransferStats = {
        ip: remote.hostname,
        port: remote.port,
        file: file.rel,
        mode: req.mode,
        bytes: out.bytes,
        size: file.size,
        durationMs: performance.now() - started,
        retransmits: out.retransmits,
        blksize: neg.blksize,
        windowsize: neg.windowsize,
        ok: out.ok,
        ...(out.error === undefined ? {} : { error: closed ? "server closed" : out.error }),
        ...(out.sizeProbe === true ? { sizeProbe: true } : {}),
      };
      if (out.ok) {
        log.debug("transfer done", { ...stats });
      } else if (out.sizeProbe === true) {
        log.debug("size probe", { ...stats });
      } else {
        log.info("transfer failed", { ...stats });
      }
      report(stats);
    } finally {
      file?.close();
      transfers.delete(key);
      busy.delete(key);
      counters.active--;
      const left = (perIp.get(remote.hostname) ?? 1) - 1;
      if (left <= 0) perIp.delete(remote.hostname);
      else perIp.set(remote.hostname, left);
    }
  }

  async function handle(bytes: Uint8Array, remote: Deno.NetAddr): Promise<void> {
    let req: Packet;
    try {
      req = decodePacket(bytes);
    } catch (e) {
      counters.malformed++;
      log.debug("malformed packet", { client: remote.hostname, error: String(e) });
      return;
    }
    if (req.op === Opcode.WRQ) {
      refuse(remote, ErrorCode.ACCESS_VIOLATION, "read-only server");
      return;
    }
    if (req.op !== Opcode.RRQ) {
      // DATA/ACK/ERROR/OACK belong on a transfer socket; on 69 they are noise.
      counters.malformed++;
      log.debug("unexpected opcode on listener", { client: remote.hostname, op: req.op });
      return;
    }
    await handleRead(req as Packet & { op: 1 }, remote);
  }

  const recvBuf = new Uint8Array(65536);
  let listenerDone: () => void = () => {};
  const finished = new Promise<void>((r) => listenerDone = r);
  const listening = reactor.add(listener, {
    ready() {
      // Bounded per wake-up, so a flood on port 69 cannot starve the transfers.
      for (let i = 0; i < 256 && !closed; i++) {
        const n = listener.recvInto(recvBuf);
        if (n < 0) return;
        counters.received++;
        // Copy: the receive buffer is reused before the handler is done with it.
        const bytes = recvBuf.slice(0, n);
        const remote: Deno.NetAddr = {
          transport: "udp",
          hostname: formatIpv4(listener.fromIp),
          port: listener.fromPort,
        };
        handle(bytes, remote).catch((e) => {
          log.error("request handler failed", { error: String(e) });
        });
      }
    },
    timeout() {},
  });

  /**
   * Tells every client with a transfer under way that the server is going:
   * running transfers from their own port (their TID), requests still
   * opening their file from the listener's (they have no TID yet).
   */
  function notifyShutdown(): void {
    for (const [key, remote] of busy) {
      const running = transfers.get(key);
      if (running !== undefined) {
        if (running.abortWithError("server closed", ErrorCode.NOT_DEFINED, SHUTDOWN_MESSAGE)) {
          counters.shutdownErrors++;
          countError(ErrorCode.NOT_DEFINED);
        }
        continue;
      }
      const err = sendFromListener(remote, ErrorCode.NOT_DEFINED, SHUTDOWN_MESSAGE);
      if (err === 0) {
        counters.shutdownErrors++;
        countError(ErrorCode.NOT_DEFINED);
      } else log.debug("shutdown error not sent", { errno: err, client: remote.hostname });
    }
  }

  function close(): Promise<void> {
    if (closed) return Promise.resolve();
    closed = true;
    try {
      notifyShutdown();
    } catch (e) {
      log.warn("shutdown notices failed", { error: String(e) });
    }
    listening.close();
    listenerDone();
    // Anything that slipped past the notices (none expected) still ends here.
    for (const t of transfers.values()) t.abort("server closed");
    return Promise.resolve();
  }
  opts.signal?.addEventListener("abort", () => void close(), { once: true });

  log.info("tftp listening", { hostname: addr.hostname, port: addr.port });
  return {
    addr,
    stats: () => ({ ...counters, errorsSent: { ...errorsSent }, failures: { ...failures } }),
    close,
    finished,
  };
}
