/**
 * @module
 * `mesh serve` (alias `mesh system start`): the daemon in the foreground,
 * logging on stdout (pretty on a TTY, JSON lines otherwise).
 */
import { runDaemon } from "../daemon/mod.ts";
import { setupLogging } from "../log.ts";
import { type GlobalOptions, host0Dir } from "./context.ts";

/** Runs the daemon until SIGTERM/SIGINT. */
export async function serveCommand(opts: GlobalOptions): Promise<number> {
  setupLogging({
    level: opts.debug ? "debug" : "info",
    to: "stdout",
    ...(opts.logFormat ? { format: opts.logFormat } : {}),
  });
  return await runDaemon({
    host0Dir: host0Dir(opts),
    ...(opts.state ? { stateDir: opts.state } : {}),
  });
}
