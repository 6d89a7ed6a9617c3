/**
 * @module
 * Opening a confined file so that what is read is what was checked.
 * `resolveConfinedSync` checks a path, but the path can be swapped (a symlink
 * to an outside file renamed over it) between that check and an open by
 * path. So here the opened descriptor itself is verified: after the open, the
 * path's real location must still be inside the root, and the entry found
 * there (lstat: the last component not followed) must be the very inode the
 * descriptor holds, and a regular file. A mismatch resolves and opens again
 * (an atomic rename republishing the file can race with us legitimately),
 * then refuses. Served bytes must only ever be read from such a descriptor,
 * never from a second open by path.
 *
 * The checks are synchronous, like the resolver's (see safe_path.ts): a few
 * metadata lookups from the kernel's caches, cheaper than a thread hop each.
 * Path checks cannot be atomic: a directory on the way flipped to an outside
 * symlink and back between the realpath and the lstat would pass (three
 * swaps within microseconds); closing that needs openat2(RESOLVE_BENEATH).
 */
import { type ConfinedFile, type Refusal, resolveConfinedSync } from "./safe_path.ts";

/** Resolve and open at most this many times when the file changes under us. */
export const OPEN_ATTEMPTS = 3;

/** A verified descriptor of a regular file. The caller closes `file`. */
export interface VerifiedFile {
  readonly ok: true;
  readonly file: Deno.FsFile;
  /** Real path where the descriptor's inode was found after opening. */
  readonly path: string;
  /** fstat of the descriptor: size and mtime of what will be read. */
  readonly info: Deno.FileInfo;
}

/** A verified descriptor of a file under a root. */
export interface OpenedFile extends VerifiedFile {
  /** The request path relative to the root. */
  readonly rel: string;
}

/** Which real paths an opened file may be found at. */
export type Inside = (real: string) => boolean;

function refuse(reason: Refusal["reason"], detail: string): Refusal {
  return { ok: false, reason, detail };
}

function closeQuietly(file: Deno.FsFile): void {
  try {
    file.close();
  } catch { /* already closed */ }
}

/** True when `real` is strictly below the real directory `root`. */
export function under(root: string): Inside {
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return (real) => real.startsWith(prefix);
}

/**
 * Checks that `file`, just opened from `path`, is the regular file that
 * `path` names now, at a real location `inside` accepts. Closes it and
 * returns a refusal otherwise.
 */
export function verifyOpenedSync(
  file: Deno.FsFile,
  path: string,
  inside: Inside,
): VerifiedFile | Refusal {
  let why: Refusal;
  try {
    const info = file.statSync();
    if (!info.isFile) {
      why = refuse("not-file", "not a regular file");
    } else {
      const real = Deno.realPathSync(path);
      if (!inside(real)) {
        why = refuse("outside", "resolves outside the root");
      } else {
        // lstat: a final component swapped for a symlink shows as the link, not its target
        const entry = Deno.lstatSync(real);
        if (
          entry.isFile && info.ino !== null && entry.ino === info.ino && entry.dev === info.dev
        ) {
          return { ok: true, file, path: real, info };
        }
        why = refuse("not-found", "file changed while opening");
      }
    }
  } catch {
    why = refuse("not-found", "file changed while opening");
  }
  closeQuietly(file);
  return why;
}

/** Opens `path` for reading and verifies the descriptor (one try). */
function openOnceSync(path: string, inside: Inside): VerifiedFile | Refusal {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch {
    return refuse("not-found", "cannot open");
  }
  return verifyOpenedSync(file, path, inside);
}

async function openOnce(path: string, inside: Inside): Promise<VerifiedFile | Refusal> {
  let file: Deno.FsFile;
  try {
    // async: an open that blocks (a FIFO swapped in) holds a worker thread, not the event loop
    file = await Deno.open(path, { read: true });
  } catch {
    return refuse("not-found", "cannot open");
  }
  return verifyOpenedSync(file, path, inside);
}

/**
 * Opens `path` — a path its caller has already checked, e.g. the real path
 * `resolveConfinedSync` returned — and verifies the descriptor: the file
 * must still be found at a real path `inside` accepts. Retries the open when
 * it changed meanwhile. For callers that cannot resolve again; prefer
 * `openConfinedSync`.
 */
export function openVerifiedSync(path: string, inside: Inside): VerifiedFile | Refusal {
  let last = refuse("not-found", "cannot open");
  for (let i = 0; i < OPEN_ATTEMPTS; i++) {
    const r = openOnceSync(path, inside);
    if (r.ok) return r;
    last = r;
  }
  return last;
}

/**
 * Resolves `requested` under `root` (as `resolveConfinedSync` does), opens it
 * and verifies the opened descriptor is that file, still inside the root.
 * When it changed between the steps, resolves and opens again (at most
 * OPEN_ATTEMPTS times), then refuses. `resolved` is a resolution the caller
 * already holds for the same request, used for the first attempt.
 */
export function openConfinedSync(
  root: string,
  requested: string,
  resolved?: ConfinedFile,
): OpenedFile | Refusal {
  const inside = under(root);
  let last = refuse("not-found", requested);
  for (let i = 0; i < OPEN_ATTEMPTS; i++) {
    const found = i === 0 && resolved !== undefined
      ? resolved
      : resolveConfinedSync(root, requested);
    if (!found.ok) return found;
    const r = openOnceSync(found.path, inside);
    if (r.ok) return { ...r, rel: found.rel };
    last = r;
  }
  return last;
}

/**
 * `openConfinedSync` with the open itself off the event loop (the checks
 * stay synchronous).
 */
export async function openConfined(
  root: string,
  requested: string,
  resolved?: ConfinedFile,
): Promise<OpenedFile | Refusal> {
  const inside = under(root);
  let last = refuse("not-found", requested);
  for (let i = 0; i < OPEN_ATTEMPTS; i++) {
    const found = i === 0 && resolved !== undefined
      ? resolved
      : resolveConfinedSync(root, requested);
    if (!found.ok) return found;
    const r = await openOnce(found.path, inside);
    if (r.ok) return { ...r, rel: found.rel };
    last = r;
  }
  return last;
}

/**
 * Opens the file at `path` (any path, symlinks followed) when its real
 * location is under the real directory `root`, and verifies the descriptor
 * as `openConfined` does. No request-path rules: for paths from
 * configuration (manifest SRC), not from the network.
 */
export async function openWithin(root: string, path: string): Promise<VerifiedFile | Refusal> {
  const inside = under(root);
  let last = refuse("not-found", path);
  for (let i = 0; i < OPEN_ATTEMPTS; i++) {
    let real: string;
    try {
      real = Deno.realPathSync(path);
    } catch {
      return refuse("not-found", "does not exist");
    }
    if (!inside(real)) return refuse("outside", `resolves to ${real}`);
    const r = await openOnce(real, inside);
    if (r.ok) return r;
    last = r;
  }
  return last;
}

/**
 * Reads up to `size` bytes of `file` from its current position (the start,
 * for a fresh descriptor); fewer when it ended sooner. Does not close it.
 */
export async function readOpened(
  file: Deno.FsFile,
  size: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const buf = new Uint8Array(size);
  let got = 0;
  while (got < size) {
    const n = await file.read(buf.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return got === size ? buf : buf.slice(0, got);
}
