/**
 * @module
 * `mesh node ctl -n <spec> "<cmd>"`: runs a shell command as root on nodes
 * over SSH with mesh's own key (<host0>/keys), at each node's current lease
 * address. One node: its stdout/stderr pass straight through and mesh exits
 * with the remote status. Several (`all`, `group:<name>`, a comma list): up
 * to 16 at a time, each output line prefixed with the node id, then a summary.
 *
 * Exit codes: the remote status; 255 when ssh could not run the command
 * (unreachable, host key changed, key refused); 124 when --timeout ran out;
 * 1 for an unknown node or one without a lease. Host keys are pinned by node
 * id in <state>/known_hosts on first contact; a changed one is refused until
 * `mesh node forget`.
 */
import { ensureNodeKey } from "../daemon/mod.ts";
import { NotFoundError } from "../errors.ts";
import { emit, type GlobalOptions, host0Dir, out } from "./context.ts";
import { EXIT_SSH, sshArgs, sshFailure } from "./node_ssh.ts";
import { resolveTargets, type Target } from "./node_targets.ts";

export interface CtlOptions {
  /** Seconds; 0 or absent: no limit. */
  timeout?: number;
  parallel?: number;
}

/** What happened on one node. */
export interface CtlResult {
  readonly node: string;
  readonly ip: string | null;
  readonly code: number;
  readonly error?: string;
}

const EXIT_TIMEOUT = 124;

/** Copies a stream to stdout/stderr with `prefix` before every line. */
async function prefixed(stream: ReadableStream<Uint8Array>, prefix: string, to: "out" | "err") {
  let rest = "";
  const write = (s: string) =>
    to === "out" ? out(s) : Deno.stderr.writeSync(new TextEncoder().encode(s));
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    if (lines.length > 0) write(lines.map((l) => `${prefix}${l}\n`).join(""));
  }
  if (rest !== "") write(`${prefix}${rest}\n`);
}

/** Runs `cmd` on one node; `prefix` set means piped and prefixed output. */
async function runOn(
  g: GlobalOptions,
  t: Target,
  cmd: string,
  o: CtlOptions,
  prefix?: string,
): Promise<CtlResult> {
  if (t.ip === null) {
    return { node: t.id, ip: null, code: 1, error: `node ${t.id} has no current lease` };
  }
  const tmp = await Deno.makeTempDir({ prefix: "mesh-ctl-" });
  const log = `${tmp}/ssh.log`;
  try {
    const child = new Deno.Command("ssh", {
      args: sshArgs(g, t, log, cmd),
      stdin: "null",
      stdout: prefix === undefined ? "inherit" : "piped",
      stderr: prefix === undefined ? "inherit" : "piped",
    }).spawn();
    const copies = prefix === undefined ? [] : [
      prefixed(child.stdout, prefix, "out"),
      prefixed(child.stderr, prefix, "err"),
    ];
    let timedOut = false;
    const timer = o.timeout
      ? setTimeout(() => {
        timedOut = true;
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }, o.timeout * 1000)
      : undefined;
    const status = await child.status;
    clearTimeout(timer);
    await Promise.all(copies);
    if (timedOut) {
      return {
        node: t.id,
        ip: t.ip,
        code: EXIT_TIMEOUT,
        error: `node ${t.id} (${t.ip}): no answer within --timeout ${o.timeout} s; stopped`,
      };
    }
    if (status.code === EXIT_SSH) {
      const why = sshFailure(t, await Deno.readTextFile(log).catch(() => ""));
      if (why !== null) return { node: t.id, ip: t.ip, code: EXIT_SSH, error: why };
    }
    return { node: t.id, ip: t.ip, code: status.code };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function errLine(s: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`mesh: ${s}\n`));
}

/** `mesh node ctl`. Returns the exit code (see the module doc). */
export async function nodeCtl(g: GlobalOptions, spec: string, cmd: string, o: CtlOptions) {
  const targets = resolveTargets(g, spec);
  await ensureNodeKey(host0Dir(g));
  const many = spec === "all" || spec.includes(",") || spec.startsWith("group:");
  if (!many) {
    const t = targets[0]!;
    if (t.ip === null) throw new NotFoundError(`node ${t.id} has no current lease (is it up?)`);
    const r = await runOn(g, t, cmd, o);
    if (r.error) errLine(r.error);
    return r.code;
  }
  const results: CtlResult[] = new Array(targets.length);
  const width = Math.max(...targets.map((t) => t.id.length));
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i]!;
      const r = await runOn(g, t, cmd, o, `${t.id.padEnd(width)}: `);
      if (r.error) errLine(r.error);
      results[i] = r;
    }
  };
  const n = Math.min(o.parallel ?? 16, targets.length);
  await Promise.all(Array.from({ length: n }, worker));
  emit(g, results, () =>
    "--\n" +
    results.map((r) =>
      `${r.node.padEnd(width)}  ${r.error ? `failed (${r.code}): ${r.error}` : `exit ${r.code}`}\n`
    ).join(""));
  return Math.max(0, ...results.map((r) => r.code));
}
