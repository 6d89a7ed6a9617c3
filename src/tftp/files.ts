/**
 * @module
 * Where TFTP bytes come from. `dirSource(root)` serves regular files under a
 * root through the shared traversal guard (src/files): `..`, absolute paths,
 * symlinks leaving the root and device files are refused, and bytes are only
 * read from a descriptor verified after opening (`openConfined`), so a path
 * swapped for a symlink mid-request serves nothing outside. Small hot files
 * (the iPXE binaries) are kept in memory, keyed by path, mtime and size; big
 * ones are streamed with positioned reads and never read whole.
 */
import { openConfined, readOpened, type Refusal, resolveConfinedSync } from "../files/mod.ts";
import { NetasciiReader, netasciiSize } from "./netascii.ts";
import { ReadAhead } from "./read_ahead.ts";

export type TransferMode = "octet" | "netascii";

/** An open file ready to be sent. */
export interface TftpFile {
  /** Path relative to the root. */
  readonly rel: string;
  /** Bytes that will be sent (netascii: after conversion). */
  readonly size: number;
  /** Whether the bytes come from the memory cache. */
  readonly cached: boolean;
  /**
   * Reads up to `length` bytes at `offset`; shorter only at the end. The view
   * is valid until the next call.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Copies bytes at `offset` into `dest` synchronously (fewer only at the
   * end) and returns the count, or null when they are not at hand: then
   * `read` gets them. Absent when the file has no synchronous path.
   */
  readInto?(offset: number, dest: Uint8Array): number | null;
  close(): void;
}

export interface FileSource {
  open(requested: string, mode: TransferMode): Promise<TftpFile | Refusal>;
}

export interface DirSourceOptions {
  /** Files up to this size are served from memory. Default 4 MiB; 0 disables. */
  readonly memoryCacheMaxBytes?: number;
  /** Total bytes kept in memory (least recently used evicted). Default 64 MiB. */
  readonly memoryCacheTotalBytes?: number;
}

interface CacheEntry {
  readonly key: string;
  readonly data: Uint8Array;
}

function memoryFile(rel: string, data: Uint8Array, mode: TransferMode, cached: boolean): TftpFile {
  if (mode === "netascii") {
    const size = netasciiSize(data);
    const reader = new NetasciiReader(
      (o, n) => Promise.resolve(data.subarray(o, o + n)),
      data.length,
    );
    return { rel, size, cached, read: (o, n) => reader.at(o, n), close() {} };
  }
  return {
    rel,
    size: data.length,
    cached,
    read: (o, n) => Promise.resolve(data.subarray(o, o + n)),
    readInto(o, dest) {
      const n = Math.max(0, Math.min(dest.length, data.length - o));
      dest.set(data.subarray(o, o + n));
      return n;
    },
    close() {},
  };
}

function cacheKey(path: string, mtime: Date | null, size: number): string {
  return `${path}\0${mtime?.getTime() ?? 0}\0${size}`;
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch { /* already closed */ }
}

async function netasciiDiskSize(read: (o: number, n: number) => Promise<Uint8Array>, size: number) {
  let total = 0;
  for (let at = 0; at < size;) {
    const chunk = await read(at, Math.min(256 * 1024, size - at));
    if (chunk.length === 0) break;
    total += netasciiSize(chunk);
    at += chunk.length;
  }
  return total;
}

/** A file source over a directory. `root` must be a real path (see `realRoot`). */
export function dirSource(root: string, opts: DirSourceOptions = {}): FileSource {
  const maxCached = opts.memoryCacheMaxBytes ?? 4 * 1024 * 1024;
  const totalCached = opts.memoryCacheTotalBytes ?? 64 * 1024 * 1024;
  // Map iteration order doubles as LRU order (re-inserted on every hit).
  const cache = new Map<string, CacheEntry>();
  // Loads in flight by key; they settle with null when the loader kept nothing to share.
  const loading = new Map<string, Promise<Uint8Array | null>>();
  let cachedBytes = 0;

  function remember(path: string, entry: CacheEntry): void {
    const old = cache.get(path);
    if (old) cachedBytes -= old.data.length;
    cache.set(path, entry);
    cachedBytes += entry.data.length;
    for (const [p, e] of cache) {
      if (cachedBytes <= totalCached) break;
      cache.delete(p);
      cachedBytes -= e.data.length;
    }
  }

  /** The cached bytes for `path` when they are still `key`; marks them recently used. */
  function cachedAt(path: string, key: string): Uint8Array | undefined {
    const hit = cache.get(path);
    if (hit === undefined || hit.key !== key) return undefined;
    cache.delete(path);
    cache.set(path, hit);
    return hit.data;
  }

  const fits = (size: number) => size <= maxCached && size <= totalCached;
  const notFound = (rel: string): Refusal => ({ ok: false, reason: "not-found", detail: rel });

  return {
    async open(requested, mode) {
      const found = resolveConfinedSync(root, requested);
      if (!found.ok) return found;
      // Cached bytes were read from a verified descriptor (below), so a hit needs no open.
      const key = cacheKey(found.path, found.mtime, found.size);
      let settle: ((data: Uint8Array | null) => void) | undefined;
      if (fits(found.size)) {
        const hit = cachedAt(found.path, key);
        if (hit !== undefined) return memoryFile(found.rel, hit, mode, true);
        // A boot storm asks for the same file hundreds of times at once: read it once.
        const pending = loading.get(key);
        if (pending !== undefined) {
          const data = await pending;
          if (data !== null) return memoryFile(found.rel, data, mode, true);
          // the loader could not use it (changed or refused): try on our own
        } else {
          const p = Promise.withResolvers<Uint8Array | null>();
          settle = p.resolve;
          loading.set(key, p.promise);
        }
      }
      try {
        // Every served byte comes from this descriptor, verified to be inside the root.
        const opened = await openConfined(root, requested, found);
        if (!opened.ok) return opened;
        const { file, info } = opened;
        if (fits(info.size)) {
          let data: Uint8Array;
          try {
            data = await readOpened(file, info.size);
          } catch {
            return notFound(opened.rel);
          } finally {
            closeQuietly(file);
          }
          // a file that changed while we read it is served but not kept
          if (data.length === info.size) {
            remember(opened.path, { key: cacheKey(opened.path, info.mtime, info.size), data });
          }
          settle?.(data);
          return memoryFile(opened.rel, data, mode, true);
        }
        const ahead = new ReadAhead(file, info.size);
        const read = (o: number, n: number) => ahead.read(o, n);
        const close = () => closeQuietly(file);
        if (mode === "netascii") {
          let size: number;
          try {
            size = await netasciiDiskSize(read, info.size);
          } catch {
            close();
            return notFound(opened.rel);
          }
          const reader = new NetasciiReader(read, info.size);
          return { rel: opened.rel, size, cached: false, read: (o, n) => reader.at(o, n), close };
        }
        return {
          rel: opened.rel,
          size: info.size,
          cached: false,
          read,
          readInto: (o, dest) => ahead.readInto(o, dest),
          close,
        };
      } finally {
        if (settle !== undefined) {
          loading.delete(key);
          settle(null); // no-op when the bytes were handed over above
        }
      }
    },
  };
}

/** A file source over in-memory files (tests, embedded assets). */
export function bytesSource(files: ReadonlyMap<string, Uint8Array>): FileSource {
  return {
    open(requested, mode) {
      const data = files.get(requested);
      if (!data) {
        return Promise.resolve({ ok: false, reason: "not-found", detail: requested } as Refusal);
      }
      return Promise.resolve(memoryFile(requested, data, mode, true));
    },
  };
}
