/**
 * @module
 * The Prometheus text exposition format (version 0.0.4), pure: metric
 * families in, text out. Every service of the daemon hands its counters over
 * as families; this is the one place that knows the format's escaping rules
 * (label values: backslash, double quote, newline; HELP: backslash, newline)
 * and its histogram shape (cumulative `_bucket{le}`, `_sum`, `_count`).
 */

export type MetricType = "counter" | "gauge" | "histogram";

/** Label names to values. Values must come from a bounded set (no MACs, no IPs). */
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** One histogram series: counts per upper bound (not cumulative), and the sum. */
export interface HistogramSample {
  readonly labels?: Labels;
  /** Upper bounds, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket: `bounds.length + 1` entries, the last one for +Inf. */
  readonly counts: readonly number[];
  readonly sum: number;
}

export type MetricFamily =
  | {
    readonly name: string;
    readonly help: string;
    readonly type: "counter" | "gauge";
    readonly samples: readonly Sample[];
  }
  | {
    readonly name: string;
    readonly help: string;
    readonly type: "histogram";
    readonly samples: readonly HistogramSample[];
  };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Go's strconv formatting, as Prometheus writes floats: +Inf, -Inf, NaN. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(labels: Labels | undefined, extra?: readonly [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push([extra[0], extra[1]]);
  if (pairs.length === 0) return "";
  for (const [k] of pairs) if (!LABEL.test(k)) throw new TypeError(`bad label name ${k}`);
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

/**
 * Renders families in order. A family named twice is merged under its first
 * HELP/TYPE (the format forbids two TYPE lines for one name), so services
 * that report the same family (two DHCP segments) may each add samples.
 */
export function renderMetrics(families: readonly MetricFamily[]): string {
  const merged = new Map<string, { f: MetricFamily; extra: MetricFamily["samples"][number][] }>();
  for (const f of families) {
    if (!NAME.test(f.name)) throw new TypeError(`bad metric name ${f.name}`);
    const seen = merged.get(f.name);
    if (seen === undefined) merged.set(f.name, { f, extra: [] });
    else if (seen.f.type !== f.type) throw new TypeError(`${f.name}: two types`);
    else seen.extra.push(...f.samples);
  }
  const out: string[] = [];
  for (const { f, extra } of merged.values()) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type === "histogram") {
      for (const s of [...f.samples, ...extra] as HistogramSample[]) histogramLines(f.name, s, out);
    } else {
      for (const s of [...f.samples, ...extra] as Sample[]) {
        out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
      }
    }
  }
  return out.length === 0 ? "" : out.join("\n") + "\n";
}

function histogramLines(name: string, s: HistogramSample, out: string[]): void {
  if (s.counts.length !== s.bounds.length + 1) {
    throw new TypeError(`${name}: ${s.bounds.length} bounds need ${s.bounds.length + 1} counts`);
  }
  let cumulative = 0;
  s.bounds.forEach((b, i) => {
    cumulative += s.counts[i]!;
    out.push(`${name}_bucket${labelText(s.labels, ["le", formatValue(b)])} ${cumulative}`);
  });
  cumulative += s.counts[s.bounds.length]!;
  out.push(`${name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${cumulative}`);
  out.push(`${name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
  out.push(`${name}_count${labelText(s.labels)} ${cumulative}`);
}

/** A histogram that is observed into (one series per label set, the label sets bounded by the caller). */
export class Histogram {
  readonly #series = new Map<string, { labels: Labels; counts: number[]; sum: number }>();

  constructor(readonly bounds: readonly number[]) {}

  observe(value: number, labels: Labels = {}): void {
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (s === undefined) {
      s = { labels, counts: new Array(this.bounds.length + 1).fill(0), sum: 0 };
      this.#series.set(key, s);
    }
    let i = this.bounds.findIndex((b) => value <= b);
    if (i < 0) i = this.bounds.length;
    s.counts[i]!++;
    s.sum += value;
  }

  samples(): HistogramSample[] {
    return [...this.#series.values()].map((s) => ({
      labels: s.labels,
      bounds: this.bounds,
      counts: [...s.counts],
      sum: s.sum,
    }));
  }
}

/** A counter family from a plain record (e.g. ignore reasons) under one label. */
export function recordSamples(
  record: Readonly<Record<string, number>>,
  label: string,
  base: Labels = {},
): Sample[] {
  return Object.entries(record).map(([k, value]) => ({ labels: { ...base, [label]: k }, value }));
}
