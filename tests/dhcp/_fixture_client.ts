/**
 * Test helpers: start serve_fixture.ts in a lab namespace and follow its JSON
 * lines; write a udhcpc hook script that configures the address and prints
 * what it got.
 */
import type { Lab } from "../lib/netns.ts";
import { TextLineStream } from "../lib/lines.ts";
import type { DhcpNodeEvent, DhcpServerStats } from "../../src/dhcp/mod.ts";

const FIXTURE = new URL("./serve_fixture.ts", import.meta.url).pathname;

export interface RunningServer {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  /** The newest stats object printed. */
  lastStats(): DhcpServerStats;
  /** Waits until a stats line satisfying `pred` arrives (or throws after timeoutMs). */
  waitStats(
    pred: (s: ReturnType<RunningServer["lastStats"]>) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  /** Node events printed so far (fixture config `events: true`). */
  readonly events: DhcpNodeEvent[];
  /** Resolves when the process ends. */
  readonly exited: Promise<Deno.CommandStatus>;
}

export async function startFixture(
  lab: Lab,
  host: string,
  config: Record<string, unknown>,
): Promise<RunningServer> {
  const child = lab.spawn(host, [Deno.execPath(), "run", "-A", FIXTURE, JSON.stringify(config)], {
    stdout: "piped",
    stderr: "inherit",
  });
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    .getReader();
  // deno-lint-ignore no-explicit-any
  let stats: any = { received: 0, replied: 0, commits: 0, dropped: {} };
  let ready: (pid: number) => void = () => {};
  const readyP = new Promise<number>((r) => ready = r);
  const waiters = new Set<() => void>();
  const events: DhcpNodeEvent[] = [];
  (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      try {
        const o = JSON.parse(value!);
        if (o.ready) ready(o.pid);
        if (o.event) events.push(o.event);
        if (o.stats) {
          stats = o.stats;
          for (const w of [...waiters]) w();
        }
      } catch { /* not ours */ }
    }
    ready(-1);
  })();
  const pid = await Promise.race([
    readyP,
    new Promise<number>((_, rej) =>
      setTimeout(() => rej(new Error("fixture did not become ready")), 20_000)
    ),
  ]);
  if (pid < 0) throw new Error("fixture exited before ready");
  return {
    child,
    pid,
    lastStats: () => stats,
    events,
    exited: child.status,
    waitStats(pred, timeoutMs = 10_000) {
      if (pred(stats)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`stats condition not met: ${JSON.stringify(stats)}`));
        }, timeoutMs);
        const check = () => {
          if (pred(stats)) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
      });
    },
  };
}

/** A udhcpc hook: configures the address (renewals need it) and prints one line per event. */
export async function writeUdhcpcScript(dir: string): Promise<string> {
  const path = `${dir}/udhcpc.sh`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
echo "EVENT $1 ip=$ip serverid=$serverid lease=$lease router=$router"
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/** Parses "EVENT <name> ip=..." lines. */
export function udhcpcEvents(out: string): { event: string; ip: string }[] {
  return [...out.matchAll(/^EVENT (\S+) ip=(\S*)/gm)].map((m) => ({ event: m[1]!, ip: m[2]! }));
}

/** Reads the leases table from a database file (as the CLI would). */
export async function readLeases(
  db: string,
): Promise<{ ip: number; mac: string; state: string }[]> {
  const { DatabaseSync } = await import("node:sqlite");
  const d = new DatabaseSync(db, { readOnly: true });
  try {
    return d.prepare("SELECT ip, mac, state FROM leases ORDER BY ip").all() as unknown as {
      ip: number;
      mac: string;
      state: string;
    }[];
  } finally {
    d.close();
  }
}

/**
 * busybox udhcpc in the foreground for one lease (-q), giving up after
 * `tries` DISCOVERs a second apart (-n), reporting through `script`.
 */
export function udhcpcArgs(script: string, tries: number): string[] {
  return ["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", String(tries), "-T", "1", "-s", script];
}
