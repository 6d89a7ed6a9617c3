/**
 * Test helper process: runs the HTTP app with in-memory fakes inside a lab
 * namespace. Argument: JSON ServerSpec. Prints `LISTENING <port>` once bound,
 * then one `LOG <json>` line per log record (the access log among them).
 * Runs until the lab kills it by PID.
 */
import { configure, type LogRecord } from "@logtape/logtape";
import { createApp, serveHttp } from "../../src/http/mod.ts";
import type { HttpEngine, OverlayAccess } from "../../src/http/mod.ts";
import { MemoryCatalog, MemoryLeases, MemoryRegistry } from "../../src/testing/http_fakes.ts";

export interface ServerSpec {
  readonly hostname: string;
  readonly port: number;
  readonly publicBase: string;
  readonly mirror: string;
  readonly boot: string;
  readonly kernelPath: string;
  readonly initrdPath: string;
  readonly extraCmdline?: string;
  readonly overlayAccess: OverlayAccess;
  /** id or "default" → { path, size, etag } */
  readonly overlays: Record<string, { path: string; size: number; etag: string }>;
  readonly leases: Record<string, string>;
  /** Log the access log (off for benchmarks). */
  readonly log: boolean;
  /** Connections per client address at most (the engine's default when omitted). */
  readonly maxPerClient?: number;
  /** Server engine; the default one when omitted. */
  readonly engine?: HttpEngine;
}

/** Sends mesh's log records to stdout as `LOG <json>` lines (properties included); shared by the HTTP test servers. */
export async function logLinesToStdout(): Promise<void> {
  const enc = new TextEncoder();
  await configure({
    sinks: {
      out: (r: LogRecord) => {
        const line = JSON.stringify({ msg: r.rawMessage, level: r.level, ...r.properties });
        Deno.stdout.writeSync(enc.encode(`LOG ${line}\n`));
      },
    },
    loggers: [
      { category: ["mesh"], sinks: ["out"], lowestLevel: "info" },
      { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
    ],
  });
}

if (import.meta.main) {
  const spec = JSON.parse(Deno.args[0]!) as ServerSpec;
  const enc = new TextEncoder();
  if (spec.log) await logLinesToStdout();
  const leases = new MemoryLeases();
  for (const [ip, mac] of Object.entries(spec.leases)) leases.grant(ip, mac);
  const app = createApp({
    registry: new MemoryRegistry(),
    catalog: new MemoryCatalog(new Map(), new Map(Object.entries(spec.overlays))),
    leases,
    config: {
      publicBase: spec.publicBase,
      alpineBranch: "v3.20",
      kernelPath: spec.kernelPath,
      initrdPath: spec.initrdPath,
      modloopPath: "/boot/modloop-lts",
      repoPath: "/alpine/v3.20/main",
      ...(spec.extraCmdline !== undefined ? { extraCmdline: spec.extraCmdline } : {}),
      overlayAccess: spec.overlayAccess,
    },
    roots: { mirror: spec.mirror, boot: spec.boot },
  });
  const running = serveHttp(app, {
    hostname: spec.hostname,
    port: spec.port,
    ...(spec.engine !== undefined ? { engine: spec.engine } : {}),
    ...(spec.maxPerClient !== undefined ? { maxPerClient: spec.maxPerClient } : {}),
  });
  Deno.stdout.writeSync(enc.encode(`LISTENING ${running.addr.port}\n`));
  await running.finished;
}
