/**
 * @module
 * Watches the state directory while the daemon runs. A failed write of the
 * node registry (full disk, read-only file system) is logged, throttled, and
 * the services go on: what was served before keeps being served. A state
 * directory that vanished or became read-only cannot be repaired from here
 * (the database file is gone or frozen under us), so the daemon says so
 * loudly and stops with a non-zero status: its supervisor restarts it, and
 * the new start recreates the directory or fails with one clear line.
 */
import { getLogger } from "@logtape/logtape";
import { LogThrottle } from "../log.ts";
import type { NodeStore } from "../store/mod.ts";

const log = getLogger(["mesh", "daemon"]);

/** How often the directory is checked, and how often the registry is pruned. */
export const STATE_CHECK_MS = 2000;
export const PRUNE_EVERY_MS = 10 * 60_000;

export interface StateHealth {
  /** 0 while healthy; 1 once the state directory was lost. */
  readonly exitCode: number;
  close(): void;
}

function identity(path: string): string | null {
  try {
    const st = Deno.statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** Why the state directory can no longer be used, or null. */
export function stateProblem(dir: string, expected: string | null): string | null {
  const now = identity(dir);
  if (now === null) return "the state directory was removed";
  if (expected !== null && now !== expected) return "the state directory was replaced";
  if (identity(`${dir}/mesh.db`) === null) return "the database file was removed";
  const probe = `${dir}/.mesh-write-probe`;
  try {
    Deno.writeTextFileSync(probe, "");
    Deno.removeSync(probe);
  } catch (e) {
    if ((e as { code?: string }).code === "EROFS" || /read-only/i.test(String(e))) {
      return "the state directory is read-only";
    }
    // ENOSPC and the like: the directory is there, the registry reports its own failures
  }
  return null;
}

/**
 * Starts the checks: the directory every STATE_CHECK_MS, the registry's
 * pruning every PRUNE_EVERY_MS. On a lost directory `stop` is aborted.
 */
export function superviseState(
  dir: string,
  registry: NodeStore,
  stop: AbortController,
  opts: { checkMs?: number; pruneMs?: number } = {},
): StateHealth {
  let exitCode = 0;
  const expected = identity(dir);
  const throttle = new LogThrottle(60_000);
  registry.onFlushError = (e, lost) => {
    const t = throttle.take("flush");
    if (t.log) {
      log.error("node registry write failed; services go on, boot steps are not recorded", {
        error: String(e),
        lost,
        failedFlushes: registry.failedFlushes,
        lostEvents: registry.lostEvents,
      });
    }
  };
  const check = setInterval(() => {
    const why = stateProblem(dir, expected);
    if (why === null) return;
    exitCode = 1;
    log.fatal("state directory lost; stopping so the supervisor restarts mesh", {
      dir,
      reason: why,
    });
    stop.abort();
  }, opts.checkMs ?? STATE_CHECK_MS);
  const prune = () => {
    try {
      const n = registry.prune(Date.now());
      if (n > 0) log.info("node registry pruned", { rows: n });
    } catch (e) {
      const t = throttle.take("prune");
      if (t.log) log.warn("node registry prune failed", { error: String(e) });
    }
  };
  prune();
  const pruner = setInterval(prune, opts.pruneMs ?? PRUNE_EVERY_MS);
  return {
    get exitCode() {
      return exitCode;
    },
    close() {
      clearInterval(check);
      clearInterval(pruner);
      registry.onFlushError = undefined;
    },
  };
}
