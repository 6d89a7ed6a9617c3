import assert from "node:assert/strict";
import { parseMetrics, promtoolCheck, sampleValue } from "../testing/prometheus.ts";
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  Histogram,
  type MetricFamily,
  renderMetrics,
} from "./metrics_text.ts";

const HOSTILE = 'a\\b"c\nd}{,=';

Deno.test("metrics text: label values and HELP are escaped as the format says", () => {
  assert.equal(escapeLabelValue(HOSTILE), 'a\\\\b\\"c\\nd}{,=');
  assert.equal(escapeHelp('back\\slash "quoted"\nline'), 'back\\\\slash "quoted"\\nline');
  assert.deepEqual([NaN, Infinity, -Infinity, 0.25, 3].map(formatValue), [
    "NaN",
    "+Inf",
    "-Inf",
    "0.25",
    "3",
  ]);
});

Deno.test("metrics text: a hostile label value survives a real parser intact", () => {
  const text = renderMetrics([{
    name: "mesh_test_total",
    help: "A help\nwith a newline and a \\ backslash.",
    type: "counter",
    samples: [{ labels: { reason: HOSTILE }, value: 2 }, { labels: { reason: "plain" }, value: 1 }],
  }]);
  assert.equal(text.split("\n").filter((l) => l.startsWith("mesh_test_total")).length, 2);
  const parsed = parseMetrics(text);
  assert.equal(sampleValue(parsed, "mesh_test_total", { reason: HOSTILE }), 2);
  assert.equal(sampleValue(parsed, "mesh_test_total", { reason: "plain" }), 1);
});

Deno.test("metrics text: histograms are cumulative with +Inf, _sum and _count", () => {
  const h = new Histogram([0.1, 1, 10]);
  for (const v of [0.05, 0.5, 0.7, 5, 50]) h.observe(v, { stage: "kernel" });
  h.observe(0.01, { stage: "dhcp" });
  const text = renderMetrics([{
    name: "mesh_d_seconds",
    help: "d",
    type: "histogram",
    samples: h.samples(),
  }]);
  assert.match(text, /mesh_d_seconds_bucket\{stage="kernel",le="0.1"\} 1\n/);
  assert.match(text, /mesh_d_seconds_bucket\{stage="kernel",le="1"\} 3\n/);
  assert.match(text, /mesh_d_seconds_bucket\{stage="kernel",le="10"\} 4\n/);
  assert.match(text, /mesh_d_seconds_bucket\{stage="kernel",le="\+Inf"\} 5\n/);
  assert.match(text, /mesh_d_seconds_count\{stage="kernel"\} 5\n/);
  const parsed = parseMetrics(text);
  assert.equal(parsed.find((x) => x.name === "mesh_d_seconds")!.type, "HISTOGRAM");
  // and the checker itself catches a broken one
  assert.throws(() => parseMetrics(text.replace('le="+Inf"} 5', 'le="+Inf"} 4')), /_count/);
});

Deno.test("metrics text: one family reported twice is merged under one TYPE", () => {
  const part = (iface: string, v: number): MetricFamily & { type: "counter" | "gauge" } => ({
    name: "mesh_dhcp_received_total",
    help: "r",
    type: "counter",
    samples: [{ labels: { interface: iface }, value: v }],
  });
  const text = renderMetrics([part("eth0", 1), part("eth1", 2)]);
  assert.equal(text.match(/# TYPE/g)?.length, 1);
  assert.equal(
    sampleValue(parseMetrics(text), "mesh_dhcp_received_total", { interface: "eth1" }),
    2,
  );
  assert.throws(
    () => renderMetrics([part("a", 1), { ...part("b", 1), type: "gauge" }]),
    /two types/,
  );
  assert.throws(() => renderMetrics([{ ...part("a", 1), name: "bad-name" }]), /bad metric name/);
  assert.throws(
    () =>
      renderMetrics([{ ...part("a", 1), samples: [{ labels: { "bad-label": "x" }, value: 1 }] }]),
    /bad label name/,
  );
});

Deno.test("metrics text: promtool check metrics accepts it (when Debian's prometheus is installed)", async () => {
  const h = new Histogram([1]);
  h.observe(2, { stage: "online" });
  const text = renderMetrics([
    {
      name: "mesh_x_total",
      help: "x.",
      type: "counter",
      samples: [{ labels: { reason: HOSTILE }, value: 1 }],
    },
    { name: "mesh_y_seconds", help: "y.", type: "histogram", samples: h.samples() },
  ]);
  const r = await promtoolCheck(text);
  if (r === null) {
    console.log("promtool not installed (Debian package prometheus): step skipped");
    return;
  }
  assert.equal(r.code, 0, r.output);
});
