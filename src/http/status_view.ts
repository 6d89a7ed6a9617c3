/**
 * @module
 * What the status page shows, computed (pure): each node's row and boot
 * timeline from the registry's summaries, the segments from the stored
 * network map (read defensively: it is JSON from the database), and the
 * filter and sort of the node table from the query string. The renderers
 * (status_page.tsx, topology_svg.tsx) only lay this out; the live stream
 * sends the same rows as JSON.
 */
import { cidrContains, parseCidr, parseIpv4 } from "../wire/mod.ts";
import { type NodeSummary, Stage } from "./deps.ts";

/** The steps of a boot as the timeline shows them; `discovered` is where it starts. */
export const TIMELINE: readonly { readonly stage: Stage; readonly label: string }[] = [
  { stage: Stage.Dhcp, label: "DHCP" },
  { stage: Stage.Firmware, label: "firmware" },
  { stage: Stage.Script, label: "script" },
  { stage: Stage.Kernel, label: "kernel" },
  { stage: Stage.Initrd, label: "initrd" },
  { stage: Stage.Apkovl, label: "overlay" },
  { stage: Stage.Online, label: "online" },
];

export interface TimelineStep {
  readonly stage: Stage;
  readonly label: string;
  /** When the current boot reached it (unix ms), or null. */
  readonly at: number | null;
  /**
   * done: ms since the step before (null for the first thing seen);
   * current: ms waited so far; otherwise null.
   */
  readonly ms: number | null;
  /** skipped: a later step was reached without this one (proxy mode has no DHCP of ours). */
  readonly state: "done" | "skipped" | "current" | "todo";
}

/** The boot timeline of a node's current boot. */
export function timeline(stages: Partial<Record<Stage, number>>, now: number): TimelineStep[] {
  let lastReached = -1;
  TIMELINE.forEach((t, i) => {
    if (stages[t.stage] !== undefined) lastReached = i;
  });
  let prev: number | null = stages[Stage.Discovered] ?? null;
  return TIMELINE.map((t, i) => {
    const at = stages[t.stage] ?? null;
    if (at !== null) {
      const ms = prev === null ? null : Math.max(0, at - prev);
      prev = at;
      return { ...t, at, ms, state: "done" as const };
    }
    if (i < lastReached) return { ...t, at, ms: null, state: "skipped" as const };
    if (i === lastReached + 1) {
      return { ...t, at, ms: prev === null ? null : Math.max(0, now - prev), state: "current" };
    }
    return { ...t, at, ms: null, state: "todo" as const };
  });
}

/** A DHCP server another's probe or the guard saw on a segment. */
export interface ServerView {
  readonly id: string;
  readonly mac: string;
  readonly subnets: readonly string[];
  readonly proxy: boolean;
}

export interface SegmentView {
  readonly id: string;
  readonly interfaces: readonly string[];
  readonly link: string;
  readonly subnet: string | null;
  readonly address: string | null;
  readonly mode: string;
  readonly served: boolean;
  readonly reason: string;
  readonly neighbours: number;
  readonly servers: readonly ServerView[];
}

const str = (v: unknown, dflt = ""): string => typeof v === "string" ? v : dflt;
const strOrNull = (v: unknown): string | null => typeof v === "string" ? v : null;
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

/** A stored segment report as the page shows it; null when it is not one. */
export function segmentView(report: unknown): SegmentView | null {
  if (report === null || typeof report !== "object") return null;
  const r = report as Record<string, unknown>;
  if (typeof r.id !== "string") return null;
  const dhcp = r.dhcp !== null && typeof r.dhcp === "object"
    ? (r.dhcp as Record<string, unknown>).servers
    : undefined;
  const servers = (Array.isArray(dhcp) ? dhcp : []).flatMap((s): ServerView[] => {
    if (s === null || typeof s !== "object") return [];
    const o = s as Record<string, unknown>;
    return [{
      id: str(o.serverId, "?"),
      mac: str(o.serverMac),
      subnets: strs(o.subnets),
      proxy: o.proxy === true,
    }];
  });
  return {
    id: r.id,
    interfaces: strs(r.interfaces),
    link: str(r.link, "?"),
    subnet: strOrNull(r.subnet),
    address: strOrNull(r.address),
    mode: str(r.mode, "?"),
    served: r.served === true,
    reason: str(r.reason),
    neighbours: Array.isArray(r.neighbours) ? r.neighbours.length : 0,
    servers,
  };
}

export interface NodeRowView {
  /** The node id, or its MAC while it has not identified. */
  readonly key: string;
  readonly id: string | null;
  readonly machine: string | null;
  readonly mac: string | null;
  readonly ip: string | null;
  readonly segment: string | null;
  readonly stage: Stage;
  readonly lastSeen: number;
  readonly steps: readonly TimelineStep[];
  /** Steps reached, of TIMELINE.length. */
  readonly reached: number;
  /** From the first thing seen of this boot to its last step, when done or stuck. */
  readonly totalMs: number | null;
}

/** Which segment an address is in, by the segments' subnets. */
export function segmentOf(ip: string | null, segments: readonly SegmentView[]): string | null {
  if (ip === null) return null;
  let n: number;
  try {
    n = parseIpv4(ip);
  } catch {
    return null;
  }
  for (const s of segments) {
    if (s.subnet === null) continue;
    try {
      if (cidrContains(parseCidr(s.subnet), n)) return s.id;
    } catch { /* a subnet no mesh wrote */ }
  }
  return null;
}

export function nodeRow(
  n: NodeSummary,
  segments: readonly SegmentView[],
  now: number,
): NodeRowView {
  const steps = timeline(n.stages, now);
  const times = Object.values(n.stages).filter((t): t is number => typeof t === "number");
  const reached = steps.filter((s) => s.state === "done").length;
  return {
    key: n.id ?? n.mac ?? "?",
    id: n.id,
    machine: n.machine,
    mac: n.mac,
    ip: n.ip,
    segment: segmentOf(n.ip, segments),
    stage: n.stage,
    lastSeen: n.lastSeen,
    steps,
    reached,
    totalMs: times.length < 2 ? null : Math.max(...times) - Math.min(...times),
  };
}
