/**
 * @module
 * Streams one file as an HTTP response: Content-Length, Accept-Ranges, a
 * single Range (206/416), ETag/Last-Modified and 304, HEAD without a body.
 * Big files are never read whole: they stream in 512 KiB chunks; files up
 * to 16 KiB are kept in memory. Every byte comes from a descriptor verified
 * after opening, never from a second open by path.
 */
import { fileEtag, ifRangeHolds, notModified } from "./conditional.ts";
import { openVerifiedSync, readOpened } from "../files/mod.ts";
import { markFileBody } from "../net/mod.ts";
import { decideRange } from "./range.ts";

/** A file to send; `etag` defaults to one derived from size and mtime. */
export interface SendFile {
  readonly path: string;
  readonly contentType: string;
  readonly etag?: string;
  /** When false, no Last-Modified (e.g. content-addressed overlays). */
  readonly lastModified?: boolean;
  /** Cache-Control value; default "no-cache" (revalidate: overlays and scripts change). */
  readonly cacheControl?: string;
}

/** Outcome of sendFile, for the access log and stage tracking. */
export interface SentFile {
  readonly response: Response;
  /** Bytes of body that will be sent (0 for HEAD/304/416). */
  readonly bytes: number;
}

/**
 * Read size per chunk. Deno's native path for `file.readable` moves 64 KiB per
 * read (one thread-pool hop each); reading 512 KiB per step from JS measured
 * ~1.3x faster on a 64 MiB file (bench/http.ts), and still bounds memory.
 */
const CHUNK = 512 * 1024;

/** A stream of `length` bytes from `start`; closes the file when done or cancelled. */
function rangeStream(file: Deno.FsFile, start: number, length: number): ReadableStream<Uint8Array> {
  let left = length;
  let positioned = start === 0;
  const close = () => {
    try {
      file.close();
    } catch { /* already closed */ }
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!positioned) {
          await file.seek(start, Deno.SeekMode.Start);
          positioned = true;
        }
        if (left <= 0) {
          close();
          controller.close();
          return;
        }
        const buf = new Uint8Array(Math.min(CHUNK, left));
        let got = 0;
        while (got < buf.length) {
          const n = await file.read(buf.subarray(got));
          if (n === null) break;
          got += n;
        }
        if (got === 0) {
          // file shrank under us: end early; the client sees a short body
          close();
          controller.close();
          return;
        }
        left -= got;
        controller.enqueue(got === buf.length ? buf : buf.subarray(0, got));
      } catch (e) {
        close();
        controller.error(e);
      }
    },
    cancel() {
      close();
    },
    // No read before a reader asks: with the default high-water mark of 1
    // the stream pulls a first chunk at once, and the sendfile engine, which
    // never reads the stream, paid a 512 KiB buffer and read for every file.
  }, { highWaterMark: 0 });
}

/** Body provider for one response: an open file or bytes held in memory. */
interface Source {
  close(): void;
  whole(): BodyInit | null;
  /** From `start` to the end; null when the file cannot seek. */
  tail(start: number): Promise<BodyInit | null>;
  slice(start: number, length: number): BodyInit;
}

/** Who the opened file is: lets the sendfile engine check it opens the same file. */
interface FileIdentity {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
}

function fileSource(file: Deno.FsFile, size: number, id: FileIdentity | null): Source {
  const close = () => {
    try {
      file.close();
    } catch { /* already closed */ }
  };
  // the stream stays the body for Deno.serve; the sendfile engine sends the marked range instead
  const stream = (start: number, length: number) => {
    const s = rangeStream(file, start, length);
    if (id !== null) markFileBody(s, { ...id, start, length, size });
    return s;
  };
  return {
    close,
    whole: () => (size === 0 ? (close(), null) : stream(0, size)),
    tail: (start) => Promise.resolve(stream(start, size - start)),
    slice: (start, length) => stream(start, length),
  };
}

function bytesSource(bytes: Uint8Array<ArrayBuffer>): Source {
  return {
    close() {},
    whole: () => bytes,
    tail: (start) => Promise.resolve(bytes.subarray(start)),
    slice: (start, length) => bytes.subarray(start, start + length),
  };
}

/** Files up to this size are kept in memory (validated by size and mtime on every request). */
export const SMALL_FILE_MAX = 16 * 1024;

/** A small file held in memory. */
export interface CachedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/** Where small files are cached: keyed by real path. */
export interface SmallFileCache {
  get(path: string): CachedFile | undefined;
  set(path: string, value: CachedFile): void;
}

/**
 * Answers GET/HEAD for `f`. Returns null when the file cannot be opened (gone
 * since it was resolved, or changed into something else), so the caller can
 * answer 404. With `small` (what the resolver just saw) and a cache, small
 * files are answered from memory.
 *
 * Bytes are only read from a descriptor verified after opening (see
 * files/open_confined.ts): it must still be the regular file found at the
 * real location of `f.path`. With `small`, `f.path` is the real path the
 * resolver checked (`resolveConfined`), and the file must still be found at
 * exactly that path: a path swapped for a symlink (to outside the root)
 * between the check and the open is refused, never served.
 */
export async function sendFile(
  req: Request,
  f: SendFile,
  small?: { cache: SmallFileCache; size: number; mtime: Date | null },
): Promise<SentFile | null> {
  if (small !== undefined && small.size <= SMALL_FILE_MAX && small.mtime !== null) {
    // cached bytes were read from a verified descriptor (below), so a hit needs no open
    const hit = small.cache.get(f.path);
    if (hit !== undefined && hit.size === small.size && hit.mtimeMs === small.mtime.getTime()) {
      return respond(req, f, hit.size, small.mtime, bytesSource(hit.bytes));
    }
  }
  // metadata only, synchronous; see files/safe_path.ts
  const opened = openVerifiedSync(
    f.path,
    small !== undefined ? (real) => real === f.path : anywhere,
  );
  if (!opened.ok) return null;
  // size and mtime of what we actually opened (an overlay may be republished by rename)
  const { file, info } = opened;
  if (small !== undefined && info.size <= SMALL_FILE_MAX && info.mtime !== null) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await readOpened(file, info.size);
    } catch {
      return null;
    } finally {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    const hit = { size: bytes.length, mtimeMs: info.mtime.getTime(), bytes };
    // a file that changed while we read it is served but not kept
    if (bytes.length === info.size) small.cache.set(f.path, hit);
    return respond(req, f, hit.size, info.mtime, bytesSource(hit.bytes));
  }
  const id = info.ino !== null ? { path: f.path, dev: info.dev, ino: info.ino } : null;
  return respond(req, f, info.size, info.mtime, fileSource(file, info.size, id));
}

/** No confinement of its own: paths mesh chose (overlays), not a client. */
const anywhere = () => true;

async function respond(
  req: Request,
  f: SendFile,
  size: number,
  mtime: Date | null,
  src: Source,
): Promise<SentFile | null> {
  const etag = f.etag ?? fileEtag(size, mtime);
  const headers = new Headers({
    "content-type": f.contentType,
    "accept-ranges": "bytes",
    etag,
    "cache-control": f.cacheControl ?? "no-cache",
  });
  if (f.lastModified !== false && mtime !== null) headers.set("last-modified", mtime.toUTCString());

  const h = req.headers;
  if (
    notModified(
      { ifNoneMatch: h.get("if-none-match"), ifModifiedSince: h.get("if-modified-since") },
      etag,
      mtime,
    )
  ) {
    src.close();
    return { response: new Response(null, { status: 304, headers }), bytes: 0 };
  }

  const range = ifRangeHolds(h.get("if-range"), etag, mtime)
    ? decideRange(h.get("range"), size)
    : { kind: "full" as const };
  if (range.kind === "unsatisfiable") {
    src.close();
    headers.set("content-range", `bytes */${size}`);
    headers.set("content-length", "0");
    return { response: new Response(null, { status: 416, headers }), bytes: 0 };
  }
  const head = req.method === "HEAD";
  if (range.kind === "partial") {
    const length = range.end - range.start + 1;
    headers.set("content-range", `bytes ${range.start}-${range.end}/${size}`);
    headers.set("content-length", String(length));
    if (head) {
      src.close();
      return { response: new Response(null, { status: 206, headers }), bytes: 0 };
    }
    if (range.end === size - 1) {
      // open-ended (resumed downloads)
      const body = await src.tail(range.start);
      if (body === null) return null;
      return { response: new Response(body, { status: 206, headers }), bytes: length };
    }
    return {
      response: new Response(src.slice(range.start, length), { status: 206, headers }),
      bytes: length,
    };
  }
  headers.set("content-length", String(size));
  if (head) {
    src.close();
    return { response: new Response(null, { status: 200, headers }), bytes: 0 };
  }
  return { response: new Response(src.whole(), { status: 200, headers }), bytes: size };
}
