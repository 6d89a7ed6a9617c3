/**
 * @module
 * Judges /metrics text with parsers that are not ours (tests only): the npm
 * package parse-prometheus-text-format (a port of the Prometheus Python
 * client's parser), plus the rules of the format it does not enforce (every
 * sample under a TYPE, no series twice, histogram buckets cumulative and
 * ending in +Inf = _count, which the package gets wrong for labelled
 * histograms), and Prometheus's own `promtool check metrics` when the
 * Debian package `prometheus` is installed.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";

export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly metrics: readonly {
    readonly value?: string;
    readonly labels?: Record<string, string>;
    readonly buckets?: Record<string, string>;
    readonly count?: string;
    readonly sum?: string;
  }[];
}

/** Parses the text, or throws with what is wrong. */
export function parseMetrics(text: string): ParsedFamily[] {
  const families = parsePrometheusTextFormat(text) as ParsedFamily[];
  const typed = new Map<string, string>();
  const series = new Set<string>();
  for (const line of text.split("\n")) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) {
      if (typed.has(t[1]!)) throw new Error(`TYPE twice: ${line}`);
      typed.set(t[1]!, t[2]!);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    if (!typed.has(m[1]!) && typed.get(base) !== "histogram") {
      throw new Error(`sample without TYPE: ${line}`);
    }
    if (series.has(`${m[1]}${m[2] ?? ""}`)) throw new Error(`series twice: ${line}`);
    series.add(`${m[1]}${m[2] ?? ""}`);
    if (!/^([+-]?Inf|NaN|[+-]?[0-9.eE+-]+)$/.test(m[3]!)) throw new Error(`bad value: ${line}`);
  }
  checkHistograms(text, typed);
  return families;
}

/**
 * Each histogram series (its labels but `le`): buckets cumulative, the last
 * one +Inf and equal to `_count`. Checked on the lines themselves: the npm
 * parser folds the series of a labelled histogram into one.
 */
function checkHistograms(text: string, typed: Map<string, string>): void {
  const buckets = new Map<string, { le: string; n: number }[]>();
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)_(bucket|count)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || typed.get(m[1]!) !== "histogram") continue;
    const labels = [...(m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)];
    const key = `${m[1]}{${labels.filter((l) => l[1] !== "le").map((l) => l[0]).join(",")}}`;
    if (m[2] === "count") {
      counts.set(key, Number(m[4]));
      continue;
    }
    const le = labels.find((l) => l[1] === "le")?.[2];
    if (le === undefined) throw new Error(`bucket without le: ${line}`);
    buckets.set(key, [...(buckets.get(key) ?? []), { le, n: Number(m[4]) }]);
  }
  for (const [key, bs] of buckets) {
    if (bs.at(-1)?.le !== "+Inf") throw new Error(`${key}: last bucket is not +Inf`);
    if (bs.some((b, i) => i > 0 && (b.n < bs[i - 1]!.n || Number(b.le) <= Number(bs[i - 1]!.le)))) {
      throw new Error(`${key}: buckets not cumulative or bounds not ascending`);
    }
    if (counts.get(key) !== bs.at(-1)!.n) throw new Error(`${key}: +Inf bucket != _count`);
  }
}

/** The value of one sample (`labels` must all match), or undefined. */
export function sampleValue(
  families: readonly ParsedFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const f = families.find((x) => x.name === name);
  const s = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (s === undefined) return undefined;
  return Number(s.value ?? s.count);
}

/** Sum of a family's samples whose labels match. */
export function sampleSum(
  families: readonly ParsedFamily[],
  name: string,
  labels: Record<string, string> = {},
): number {
  const f = families.find((x) => x.name === name);
  return (f?.metrics ?? [])
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((a, m) => a + Number(m.value ?? m.count), 0);
}

/**
 * `promtool check metrics` on the text: null when promtool is not
 * installed, else its exit code and output (lint problems are printed and
 * make the code 1; a parse error too).
 */
export async function promtoolCheck(
  text: string,
): Promise<{ code: number; output: string } | null> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}
