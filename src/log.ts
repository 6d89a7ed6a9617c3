/**
 * @module
 * Logging set-up (logtape): pretty lines on a TTY, JSON lines otherwise.
 * Libraries only call `getLogger(["mesh", svc])`; nothing is printed until the
 * entry point calls `setupLogging`, so tests stay quiet.
 */
import {
  configureSync,
  getJsonLinesFormatter,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

export type LogFormat = "pretty" | "json";

const LEVEL_TAG: Record<LogLevel, string> = {
  trace: "TRC",
  debug: "DBG",
  info: "INF",
  warning: "WRN",
  error: "ERR",
  fatal: "FTL",
};
const LEVEL_COLOR: Record<LogLevel, string> = {
  trace: "\x1b[90m",
  debug: "\x1b[90m",
  info: "\x1b[32m",
  warning: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[35m",
};

function renderMessage(record: LogRecord): string {
  return record.message.map((part) => typeof part === "string" ? part : JSON.stringify(part)).join(
    "",
  );
}

/** `12:00:01.123 INF mesh.dhcp offer sent mac=.. ip=..` with colours on a TTY. */
export function prettyFormatter(record: LogRecord, color = true): string {
  const t = new Date(record.timestamp).toISOString().slice(11, 23);
  const props = Object.entries(record.properties)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  const tag = LEVEL_TAG[record.level];
  const lvl = color ? `${LEVEL_COLOR[record.level]}${tag}\x1b[0m` : tag;
  const cat = record.category.join(".");
  return `${t} ${lvl} ${color ? `\x1b[36m${cat}\x1b[0m` : cat} ${renderMessage(record)}${
    props ? ` ${props}` : ""
  }\n`;
}

/**
 * Configures logging for this process. `to` picks the stream: the daemon logs
 * on stdout; short-lived commands log on stderr so stdout stays data only.
 */
export function setupLogging(
  opts: { level: LogLevel; to: "stdout" | "stderr"; format?: LogFormat },
): void {
  const stream = opts.to === "stdout" ? Deno.stdout : Deno.stderr;
  const format = opts.format ?? (stream.isTerminal() ? "pretty" : "json");
  const json = getJsonLinesFormatter();
  const color = stream.isTerminal();
  const enc = new TextEncoder();
  const sink = (record: LogRecord) => {
    const line = format === "json" ? json(record) : prettyFormatter(record, color);
    try {
      stream.writeSync(enc.encode(line));
    } catch { /* a closed pipe must not crash a server loop */ }
  };
  resetSync();
  configureSync({
    sinks: { out: sink },
    loggers: [
      { category: ["mesh"], lowestLevel: opts.level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/**
 * At most one log line per key per `everyMs`: what a flood from the boot
 * network would otherwise turn into a line per packet. `take` says whether to
 * log now and how many occurrences were held back since the last line.
 */
export class LogThrottle {
  #last = new Map<string, { at: number; held: number }>();
  constructor(readonly everyMs = 10_000, readonly now: () => number = Date.now) {}

  take(key: string): { log: boolean; suppressed: number } {
    const t = this.now();
    const e = this.#last.get(key);
    if (e !== undefined && t - e.at < this.everyMs) {
      e.held++;
      return { log: false, suppressed: e.held };
    }
    if (this.#last.size >= 1024) this.#last.clear();
    this.#last.set(key, { at: t, held: 0 });
    return { log: true, suppressed: e?.held ?? 0 };
  }
}
