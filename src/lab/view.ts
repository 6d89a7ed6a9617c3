/**
 * @module
 * What `mesh lab` prints: the topology the daemon found, a live view of the
 * nodes (redrawn in place on a terminal, one line per change otherwise) and
 * the summary with per-stage times.
 */
import { type NodeState, STAGES } from "./light_node.ts";

/** A segment as `mesh system status --json` reports it. */
export interface LabSegment {
  readonly id: string;
  readonly interfaces: readonly string[];
  readonly mode: string;
  readonly reason: string;
  readonly subnet: string | null;
  readonly address: string | null;
}

const enc = new TextEncoder();

export function write(text: string): void {
  let bytes = enc.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

export function topologyText(segments: readonly LabSegment[], switchOf: (i: string) => string) {
  const lines = ["topology found by mesh serve (auto on every port):"];
  for (const s of segments) {
    const sw = [...new Set(s.interfaces.map(switchOf))].join(",");
    lines.push(
      `  segment ${s.id}  ports ${s.interfaces.join(",")} (switch ${sw})  mode ${s.mode}  ` +
        `subnet ${s.subnet ?? "-"}  mesh ${s.address ?? "-"}`,
      `    why: ${s.reason}`,
    );
  }
  return lines.join("\n") + "\n";
}

function secs(ms: number | undefined): string {
  return ms === undefined ? "-" : (ms / 1000).toFixed(1);
}

function nodeLine(n: NodeState): string {
  const state = n.error ? `FAILED at ${nextStage(n)}: ${n.error}` : n.stage;
  const t = n.times[n.stage as keyof typeof n.times];
  return `  ${n.name.padEnd(5)} sw ${n.switch}  ${(n.mac || "-").padEnd(17)}  ${
    (n.ip || "-").padEnd(15)
  }  ${(n.id || "-").padEnd(8)}  ${state}${t !== undefined && !n.error ? ` ${secs(t)}s` : ""}`;
}

function nextStage(n: NodeState): string {
  return STAGES.find((s) => n.times[s] === undefined) ?? "online";
}

/** The live view. */
export class LiveView {
  readonly #tty = Deno.stdout.isTerminal();
  #drawn = 0;
  readonly #last = new Map<string, string>();

  constructor(readonly nodes: readonly NodeState[], readonly started: number) {}

  /** Redraws (TTY) or prints the lines that changed (not a TTY). */
  update(): void {
    if (this.#tty) {
      const lines = [
        `nodes (${
          this.nodes.filter((n) => n.stage === "online").length
        }/${this.nodes.length} online, ${secs(Date.now() - this.started)} s):`,
        ...this.nodes.map(nodeLine),
      ];
      let text = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : "";
      for (const l of lines) text += `\x1b[2K${l}\n`;
      this.#drawn = lines.length;
      write(text);
      return;
    }
    for (const n of this.nodes) {
      const key = `${n.stage}|${n.error}`;
      if (this.#last.get(n.name) === key || n.stage === "waiting") continue;
      this.#last.set(n.name, key);
      write(`${secs(Date.now() - this.started).padStart(6)}s ${nodeLine(n).trimStart()}\n`);
    }
  }
}

/** The summary: per node stage times, then per stage min/median/max. */
export function summaryText(nodes: readonly NodeState[], wallMs: number): string {
  const online = nodes.filter((n) => n.stage === "online").length;
  const lines = [
    "",
    `summary: ${online}/${nodes.length} nodes online in ${
      secs(wallMs)
    } s (wall time, lab start to last online)`,
    `  seconds from each node's start to the end of each stage:`,
    `  ${"node".padEnd(6)}${STAGES.map((s) => s.padStart(10)).join("")}`,
  ];
  for (const n of nodes) {
    lines.push(`  ${n.name.padEnd(6)}${STAGES.map((s) => secs(n.times[s]).padStart(10)).join("")}`);
  }
  const stat = (f: (xs: number[]) => number) =>
    STAGES.map((s) => {
      const xs = nodes.map((n) => n.times[s]).filter((x): x is number => x !== undefined).sort((
        a,
        b,
      ) => a - b);
      return (xs.length ? secs(f(xs)) : "-").padStart(10);
    }).join("");
  lines.push(`  ${"min".padEnd(6)}${stat((xs) => xs[0]!)}`);
  lines.push(`  ${"median".padEnd(6)}${stat((xs) => xs[Math.floor(xs.length / 2)]!)}`);
  lines.push(`  ${"max".padEnd(6)}${stat((xs) => xs[xs.length - 1]!)}`);
  for (const n of nodes.filter((n) => n.error)) lines.push(`  ${n.name}: ${n.error}`);
  return lines.join("\n") + "\n";
}
