/**
 * @module
 * Writes one Response on a connection: the head, then the body by the
 * cheapest way there is — a static body in the same send() as the head, a
 * marked file body with sendfile(2), any other stream chunk by chunk
 * (Content-Length when known, else chunked for HTTP/1.1 or close-delimited).
 */
import { concatBytes } from "../wire/mod.ts";
import { C, cstr, errno, libc } from "./_libc.ts";
import { type FileBodyMark, fileBodyOf } from "./http_file_body.ts";
import { Framing, latin1Bytes, responseHead } from "./http_head.ts";
import { hasStaticBody } from "./http_static_body.ts";
import { PACE_MIN_BYTES, type Pacer } from "./http_pacer.ts";

/** The client is gone (or the server gave up on it): the connection just closes. */
export class PeerGone extends Error {
  override name = "PeerGone";
}

/** What the writer needs from a connection. Both calls throw PeerGone when it is gone. */
export interface Wire {
  readonly fd: number;
  /** Our address on this connection (u32): which link's share a paced download takes. */
  readonly localIp: number;
  /** Set when the server gives up on the connection (shutdown). */
  readonly cancelled: boolean;
  /** Sends all of `bytes` (MSG_NOSIGNAL and `flags`), waiting for room as needed. */
  write(bytes: Uint8Array, flags?: number): Promise<void>;
  /** Waits until the socket has room again. */
  writable(): Promise<void>;
}

export interface RespondStats {
  aborted: number;
  timeouts: number;
  sendfileBytes: number;
  streamedBytes: number;
}

/** Per-server settings and counters the writer uses. */
export interface RespondContext {
  readonly stats: RespondStats;
  /** Give up on a client that accepts no bytes for this long. */
  readonly sendTimeoutMs: number;
  /** True when other sockets are waiting for the loop (a big send then takes turns). */
  readonly othersReady: () => boolean;
  /** Worker threads free for blocking sendfile; shared by the server's connections. */
  readonly offload: { free: number };
  /** Fair shares of the link for large file bodies (none: not paced). */
  readonly pacer?: Pacer;
}

/** What the request asked for that shapes the response. */
export interface Exchange {
  readonly method: string;
  readonly keepAlive: boolean;
  readonly http10: boolean;
  readonly date: string;
}

/** Bodies of unknown length shorter than this are gathered, to send a Content-Length. */
const GATHER = 64 * 1024;
const statxBuf = new Uint8Array(256);

/** Sends `res`. True when the connection can carry another request. */
export async function respond(
  wire: Wire,
  ex: Exchange,
  res: Response,
  ctx: RespondContext,
): Promise<boolean> {
  const stats = ctx.stats;
  const status = res.status;
  const noBody = ex.method === "HEAD" || status === 204 || status === 304 || status < 200;
  const head = (framing: Framing, length: number) =>
    latin1Bytes(responseHead({
      status,
      statusText: res.statusText,
      headers: res.headers,
      framing,
      length,
      keepAlive: ex.keepAlive,
      http10: ex.http10,
      date: ex.date,
    }));
  try {
    if (hasStaticBody(res)) {
      if (noBody) {
        await wire.write(head(Framing.None, 0));
        return ex.keepAlive;
      }
      const bytes = await res.bytes();
      await wire.write(concatBytes([head(Framing.Length, bytes.length), bytes]));
      stats.streamedBytes += bytes.length;
      return ex.keepAlive;
    }
    const body = res.body;
    if (noBody || body === null) {
      if (body !== null) body.cancel().catch(() => {});
      await wire.write(head(noBody ? Framing.None : Framing.Length, 0));
      return ex.keepAlive;
    }
    const mark = fileBodyOf(body);
    if (mark !== undefined) {
      const fileFd = openMarked(mark);
      if (fileFd >= 0) {
        body.cancel().catch(() => {});
        // corked (like nginx's tcp_nopush): the head and the file leave in full segments
        setCork(wire.fd, true);
        const unpace = mark.length >= PACE_MIN_BYTES
          ? ctx.pacer?.begin(wire.fd, wire.localIp)
          : undefined;
        try {
          await wire.write(head(Framing.Length, mark.length));
          const complete = await sendFileRange(wire, fileFd, mark.start, mark.length, ctx);
          setCork(wire.fd, false);
          // a short body cannot be repaired: closing tells the client it is incomplete
          return complete && ex.keepAlive;
        } finally {
          unpace?.();
          libc().close(fileFd);
        }
      }
    }
    return await streamBody(wire, ex, res, body, head, stats);
  } catch (e) {
    if (e instanceof PeerGone) stats.aborted++;
    throw e;
  }
}

/**
 * Opens the marked file; -1 when it is gone or no longer the file the app
 * opened (replaced): then the app's own (verified) stream is sent instead.
 * O_NOFOLLOW: a last component swapped for a symlink fails to open; the
 * device and inode check catches any other swap (a directory on the way).
 */
function openMarked(mark: FileBodyMark): number {
  const l = libc();
  const fd = l.open(cstr(mark.path), C.O_RDONLY | C.O_CLOEXEC | C.O_NOFOLLOW);
  if (fd < 0) return -1;
  const rc = l.statx(fd, cstr(""), C.AT_EMPTY_PATH, C.STATX_BASIC_STATS, statxBuf);
  const v = new DataView(statxBuf.buffer);
  // struct statx (the same layout on every arch): stx_mode at 28, stx_ino at 32,
  // stx_size at 40, stx_dev_major at 136, stx_dev_minor at 140; st_dev (Deno's
  // FileInfo.dev) is glibc's makedev of the two
  const S_IFMT = 0o170000, S_IFREG = 0o100000;
  const major = BigInt(v.getUint32(136, true)), minor = BigInt(v.getUint32(140, true));
  const dev = ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) |
    ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
  if (
    rc < 0 || (v.getUint16(28, true) & S_IFMT) !== S_IFREG ||
    Number(v.getBigUint64(32, true)) !== mark.ino ||
    Number(v.getBigUint64(40, true)) !== mark.size || Number(dev) !== mark.dev
  ) {
    l.close(fd);
    return -1;
  }
  return fd;
}

/**
 * Bytes one synchronous sendfile may move. A client that drains as fast as
 * the kernel copies (a local or veth peer) otherwise takes tens of MB in one
 * call, and every other socket of the reactor (DHCP, TFTP, the other
 * downloads) waits that long. After each chunk the connection goes on only
 * when nobody else is waiting and SYNC_SLICE_MS has not passed; otherwise it
 * waits for its next turn like any other.
 */
const SYNC_CHUNK = 256 << 10;
/** The chunk while no other socket is waiting: fewer calls for a lone download. */
const SYNC_CHUNK_ALONE = 4 << 20;
/** Longest a connection keeps the loop with back-to-back chunks (timers need turns too). */
const SYNC_SLICE_MS = 2;

/**
 * sendfile(2) until `length` bytes from `start` are out. False when the file
 * ended early. What fits in the socket buffer goes from this thread, at most
 * SYNC_CHUNK per turn of the reactor while other sockets wait (bigger chunks
 * while none does); the rest goes from a worker thread in
 * blocking mode when one is free (the kernel then refills the socket without
 * waking JS per chunk, as fast as nginx), else from here, waiting for
 * POLLOUT between chunks.
 */
async function sendFileRange(
  wire: Wire,
  fileFd: number,
  start: number,
  length: number,
  ctx: RespondContext,
): Promise<boolean> {
  const offset = new BigInt64Array([BigInt(start)]);
  const offsetBuf = new Uint8Array(offset.buffer);
  const l = libc();
  let left = length;
  let sliceStart = performance.now();
  while (left > 0) {
    const want = Math.min(left, ctx.othersReady() ? SYNC_CHUNK : SYNC_CHUNK_ALONE);
    const n = Number(l.sendfile(wire.fd, fileFd, offsetBuf, BigInt(want)));
    if (n > 0) {
      left -= n;
      ctx.stats.sendfileBytes += n;
      // A whole chunk went: there may be room for more, after the others' turns.
      if (
        n === want && left > 0 &&
        (performance.now() - sliceStart >= SYNC_SLICE_MS || ctx.othersReady())
      ) {
        await wire.writable();
        sliceStart = performance.now();
      }
      continue;
    } else if (n === 0) {
      return false; // the file shrank under us
    } else {
      const e = errno();
      if (e === C.EINTR) continue;
      if (e !== C.EAGAIN) throw new PeerGone();
    }
    // the socket buffer is full
    if (left > 0 && ctx.offload.free > 0) {
      return await sendFileBlocking(wire, fileFd, offsetBuf, left, ctx);
    }
    if (left > 0) await wire.writable();
  }
  return true;
}

/** A blocking send on a worker thread returns at least this often, to notice shutdown. */
const SLICE_S = 1;
/** Bytes per blocking call: bounds how long a slow client holds a call between checks. */
const OFFLOAD_CHUNK = 8 * 1024 * 1024;

async function sendFileBlocking(
  wire: Wire,
  fileFd: number,
  offsetBuf: Uint8Array<ArrayBuffer>,
  length: number,
  ctx: RespondContext,
): Promise<boolean> {
  const l = libc();
  ctx.offload.free--;
  setNonBlocking(wire.fd, false);
  try {
    const tv = new BigInt64Array([BigInt(SLICE_S), 0n]);
    l.setsockopt(wire.fd, C.SOL_SOCKET, C.SO_SNDTIMEO, new Uint8Array(tv.buffer), 16);
    let left = length;
    let progressAt = performance.now();
    while (left > 0) {
      if (wire.cancelled) throw new PeerGone();
      const want = Math.min(left, OFFLOAD_CHUNK);
      const n = Number(await l.sendfile_wait(wire.fd, fileFd, offsetBuf, BigInt(want)));
      if (n > 0) {
        left -= n;
        ctx.stats.sendfileBytes += n;
        progressAt = performance.now();
        continue;
      }
      if (n === 0) return false;
      // errno belongs to the worker thread: ask the socket whether the peer is gone
      if (peerGone(wire.fd)) throw new PeerGone();
      if (performance.now() - progressAt > ctx.sendTimeoutMs) {
        ctx.stats.timeouts++;
        throw new PeerGone();
      }
    }
    return true;
  } finally {
    setNonBlocking(wire.fd, true);
    ctx.offload.free++;
  }
}

function setCork(fd: number, on: boolean): void {
  const v = new Int32Array([on ? 1 : 0]);
  libc().setsockopt(fd, C.IPPROTO_TCP, C.TCP_CORK, new Uint8Array(v.buffer), 4);
}

function setNonBlocking(fd: number, on: boolean): void {
  const v = new Int32Array([on ? 1 : 0]);
  libc().ioctl(fd, BigInt(C.FIONBIO), new Uint8Array(v.buffer));
}

const pollfd = new Uint8Array(8);
/** True when the socket reports an error or hang-up. */
function peerGone(fd: number): boolean {
  const v = new DataView(pollfd.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, C.POLLOUT, true);
  v.setInt16(6, 0, true);
  if (libc().poll_now(pollfd, 1n, 0) < 0) return true;
  return (v.getInt16(6, true) & (C.POLLERR | C.POLLHUP)) !== 0;
}

async function streamBody(
  wire: Wire,
  ex: Exchange,
  res: Response,
  body: ReadableStream<Uint8Array>,
  head: (framing: Framing, length: number) => Uint8Array,
  stats: RespondStats,
): Promise<boolean> {
  const reader = body.getReader();
  let finished = false;
  try {
    const declaredText = res.headers.get("content-length");
    const declared = declaredText !== null && /^[0-9]+$/.test(declaredText)
      ? Number(declaredText)
      : -1;
    // gather a little, so short bodies of unknown length still get a Content-Length;
    // an event stream goes out with its first chunk (its end may be hours away)
    const live = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
    const first: Uint8Array[] = [];
    let gathered = 0;
    let done = false;
    while (gathered < GATHER && !(live && first.length > 0)) {
      const r = await reader.read();
      if (r.done) {
        done = true;
        break;
      }
      first.push(bytesOf(r.value));
      gathered += r.value.length;
    }
    const framing = declared >= 0 || done
      ? Framing.Length
      : ex.http10
      ? Framing.Close
      : Framing.Chunked;
    const length = declared >= 0 ? declared : gathered;
    const chunked = framing === Framing.Chunked;
    const body0 = framing === Framing.Length ? clip(first, length) : first;
    let sent = 0;
    for (const p of body0) sent += p.length;
    const wireParts = chunked ? body0.filter((p) => p.length > 0).map(chunk) : body0;
    // the head and the gathered bytes in one send
    await wire.write(concatBytes([head(framing, length), ...wireParts]));
    stats.streamedBytes += sent;
    while (!done) {
      const r = await reader.read();
      if (r.done) break;
      let piece = bytesOf(r.value);
      if (piece.length === 0) continue; // an empty chunk would end a chunked body
      if (framing === Framing.Length) {
        if (sent >= length) continue; // longer than announced: the excess is dropped
        if (piece.length > length - sent) piece = piece.subarray(0, length - sent);
      }
      await wire.write(chunked ? chunk(piece) : piece);
      sent += piece.length;
      stats.streamedBytes += piece.length;
    }
    if (chunked) await wire.write(latin1Bytes("0\r\n\r\n"));
    finished = true;
    // shorter than announced: only closing tells the client
    if (framing === Framing.Length && sent !== length) return false;
    return ex.keepAlive && framing !== Framing.Close;
  } finally {
    // releaseLock() costs a rejected promise with a stack trace; a finished reader is just dropped
    if (!finished) reader.cancel().catch(() => {});
  }
}

function bytesOf(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  throw new TypeError("response body chunk is not bytes");
}

function chunk(piece: Uint8Array): Uint8Array {
  const prefix = latin1Bytes(`${piece.length.toString(16)}\r\n`);
  const out = new Uint8Array(prefix.length + piece.length + 2);
  out.set(prefix);
  out.set(piece, prefix.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The first `length` bytes of `parts`. */
function clip(parts: Uint8Array[], length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let left = length;
  for (const p of parts) {
    if (left <= 0) break;
    out.push(p.length <= left ? p : p.subarray(0, left));
    left -= Math.min(p.length, left);
  }
  return out;
}
