/**
 * @module
 * Runs serve_logged.ts (the real DHCP service) in a lab namespace and
 * follows its stats (stdout) and log records (stderr), for tests that check
 * what the server counted and said.
 */
import type { DhcpServerStats } from "../../src/dhcp/mod.ts";
import { TextLineStream } from "../lib/lines.ts";
import type { Lab } from "../lib/netns.ts";
import type { LoggedConfig, MemoryRow } from "./serve_logged.ts";

const FIXTURE = new URL("./serve_logged.ts", import.meta.url).pathname;

export interface LogRecord {
  level: string;
  message: string;
  properties: Record<string, unknown>;
}

export interface Logged {
  stats(): DhcpServerStats;
  waitStats(pred: (s: DhcpServerStats) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Stops the server (SIGTERM) and returns every log record it wrote. */
  stop(): Promise<LogRecord[]>;
  /** The lease rows the server held in memory when it stopped (after stop()). */
  memory(): MemoryRow[] | undefined;
}

/** Starts serve_logged.ts in `host` and follows its stats (stdout) and log records (stderr). */
export async function startLogged(lab: Lab, host: string, cfg: LoggedConfig): Promise<Logged> {
  const child = lab.spawn(host, [Deno.execPath(), "run", "-A", FIXTURE, JSON.stringify(cfg)], {
    stdout: "piped",
    stderr: "piped",
  });
  const records: Promise<LogRecord[]> = (async () => {
    const out: LogRecord[] = [];
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of lines) {
      try {
        out.push(JSON.parse(line));
      } catch {
        console.error(line); // not a record (a crash): shown, not swallowed
      }
    }
    return out;
  })();
  let stats: DhcpServerStats | undefined;
  let memory: MemoryRow[] | undefined;
  let ready: (ok: boolean) => void = () => {};
  const readyP = new Promise<boolean>((r) => ready = r);
  const stdoutDone = (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of lines) {
      const o = JSON.parse(line);
      if (o.ready) ready(true);
      if (o.stats) stats = o.stats;
      if (o.memory) memory = o.memory;
    }
    ready(false);
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ok = await Promise.race([
    readyP,
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), 20_000)),
  ]);
  clearTimeout(timer);
  if (!ok) throw new Error("serve_logged.ts did not become ready");
  return {
    stats: () => stats!,
    memory: () => memory,
    async waitStats(pred, what, timeoutMs = 30_000) {
      for (let waited = 0; !(stats && pred(stats)); waited += 50) {
        if (waited >= timeoutMs) throw new Error(`${what}: ${JSON.stringify(stats)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* exited */ }
      await child.status;
      const out = await records;
      await stdoutDone;
      return out;
    },
  };
}

/** Waits until the server has read everything sent (received stops moving), bounded. */
export async function settled(srv: Logged): Promise<DhcpServerStats> {
  await srv.waitStats(() => true, "no stats from the server");
  let last = -1;
  for (let i = 0; i < 100 && srv.stats().received !== last; i++) {
    last = srv.stats().received;
    await new Promise((r) => setTimeout(r, 300));
  }
  return srv.stats();
}
