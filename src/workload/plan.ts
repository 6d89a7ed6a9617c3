/**
 * @module
 * What mesh asks a node to do for a workload: the spec lines of a start (the
 * qemu argv, the volumes to fetch, the taps to create, the memory and CPUs to
 * check), the one shell command that installs the supervisor from stdin and
 * runs it, and the parse of the JSON line it answers. Pure.
 */
import type { VolumeSource, Workload } from "../config/mod.ts";
import { type Accel, type Rendered, renderQemu } from "./render.ts";

/** The supervisor's file name in the node's run-directory root. */
export const SUPERVISOR_NAME = "mesh-workload.sh";

/** `'text'` for sh, with single quotes written as `'\''`. */
export function shQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The URL a node fetches a volume from: a URL as written; a file under
 * /isos/ from the central node's HTTP server at `central` (host or IP, and
 * `:port` unless 80).
 */
export function sourceUrl(source: VolumeSource, central: string, port = 80): string {
  if (source.kind === "url") return source.url;
  const host = central.includes(":") && !central.startsWith("[") ? `[${central}]` : central;
  const rel = source.rel.split("/").map(encodeURIComponent).join("/");
  return `http://${host}${port === 80 ? "" : `:${port}`}/isos/${rel}`;
}

export interface StartInput {
  readonly workload: Workload;
  /** The node's run-directory root (from the probe). */
  readonly root: string;
  readonly accel: Accel;
  readonly bridges: Readonly<Record<string, string>>;
  /** Where the node reaches the central node's HTTP server, for /isos/ sources. */
  readonly central: { readonly host: string; readonly port: number } | null;
}

export interface StartPlan {
  readonly rendered: Rendered;
  readonly runDir: string;
  /** The supervisor's arguments after `start <uuid>`. */
  readonly spec: readonly string[];
}

/** The start of one workload on one node. Throws when an /isos/ source has no central address. */
export function planStart(input: StartInput): StartPlan {
  const w = input.workload;
  const runDir = `${input.root.replace(/\/+$/, "")}/${w.uuid}`;
  const rendered = renderQemu({
    workload: w,
    runDir,
    accel: input.accel,
    bridges: input.bridges,
  });
  const spec: string[] = [`mem ${Math.ceil(w.memory.bytes / 1024)}`, `cpus ${w.cpu.threads}`];
  for (const v of w.volumes) {
    let url = "-";
    if (v.source) {
      if (v.source.kind === "isos" && input.central === null) {
        throw new Error(`volume ${v.id}: the node's address for the central node is not known`);
      }
      url = sourceUrl(v.source, input.central?.host ?? "", input.central?.port);
    }
    spec.push(`volume ${v.path} ${url}`);
  }
  for (const t of rendered.taps) spec.push(`tap ${t.ifname} ${t.bridge}`);
  for (const a of rendered.argv) spec.push(`arg ${a}`);
  return { rendered, runDir, spec };
}

/**
 * The remote command: save the supervisor (sent on stdin) under the run root
 * by rename, so concurrent calls never run a half-written copy, and run it.
 */
export function supervisorCommand(
  verb: "start" | "stop" | "status",
  uuid: string,
  args: readonly string[],
): string {
  const root = '"${MESH_WORKLOAD_ROOT:-/run/mesh/workloads}"';
  return `umask 077; r=${root}; mkdir -p "$r" && cat >"$r/.${SUPERVISOR_NAME}.$$" && ` +
    `mv -f "$r/.${SUPERVISOR_NAME}.$$" "$r/${SUPERVISOR_NAME}" && ` +
    `exec sh "$r/${SUPERVISOR_NAME}" ${[verb, uuid, ...args].map(shQuote).join(" ")}`;
}

/** What the supervisor reports. */
export interface RemoteStatus {
  readonly state: "running" | "stopped" | "failed";
  readonly pid: number | null;
  readonly memoryKb: number | null;
  readonly uptimeS: number | null;
  readonly error: string | null;
  readonly warning: string | null;
  /** stop: powerdown | term | kill | none. */
  readonly how: string | null;
  /** start: it was running already. */
  readonly already: boolean;
}

/** The supervisor's JSON line (the last line of its stdout), or null when there is none. */
export function parseRemoteStatus(stdout: string): RemoteStatus | null {
  const line = stdout.trim().split("\n").pop() ?? "";
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
  const state = o.state;
  if (state !== "running" && state !== "stopped" && state !== "failed") return null;
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    state,
    pid: num(o.pid),
    memoryKb: num(o.memory_kb),
    uptimeS: num(o.uptime_s),
    error: str(o.error),
    warning: str(o.warning),
    how: str(o.how),
    already: o.already === true,
  };
}
