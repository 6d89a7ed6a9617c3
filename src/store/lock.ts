/**
 * @module
 * One daemon per state directory. The lock is a file holding the owner's PID,
 * created with O_EXCL; a lock whose PID no longer runs (after kill -9) is
 * taken over, so a crash never needs manual clean-up.
 */
import { StateLockedError } from "../errors.ts";

/** A held lock; release it on shutdown. */
export interface StateLock {
  readonly path: string;
  release(): void;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Reads the PID in a lock file, or null when absent or unreadable. */
export function lockHolder(path: string): number | null {
  try {
    const pid = Number(Deno.readTextFileSync(path).trim());
    return pidAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the lock at `path` or throws StateLockedError naming the holder. */
export function acquireStateLock(path: string): StateLock {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const f = Deno.openSync(path, { write: true, createNew: true });
      f.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
      f.close();
      return {
        path,
        release() {
          try {
            if (Deno.readTextFileSync(path).trim() === String(Deno.pid)) Deno.removeSync(path);
          } catch { /* already gone */ }
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const holder = lockHolder(path);
      if (holder !== null && holder !== Deno.pid) throw new StateLockedError(holder, path);
      // Stale lock from a process that died: remove and retry.
      try {
        Deno.removeSync(path);
      } catch { /* raced with another taker */ }
    }
  }
  throw new StateLockedError(lockHolder(path) ?? -1, path);
}
