/**
 * @module
 * The SSH channel to nodes, shared by `mesh node ctl` and `mesh workload`:
 * mesh's own key from <host0>/keys, host keys pinned per node id in
 * <state>/known_hosts (first contact accepted, a changed key refused until
 * `mesh node forget`), root at the node's current lease address, no user
 * ssh config.
 */
import { knownHostsPath, nodeKeyPaths } from "../daemon/mod.ts";
import { type GlobalOptions, host0Dir, stateDir } from "./context.ts";
import type { Target } from "./node_targets.ts";

/** ssh's status when ssh itself (not the remote command) failed. */
export const EXIT_SSH = 255;

/** The ssh argv (without "ssh") that runs `cmd` on `t`, ssh's own messages going to `log`. */
export function sshArgs(g: GlobalOptions, t: Target, log: string, cmd: string): string[] {
  return [
    ...["-F", "/dev/null", "-E", log, "-i", nodeKeyPaths(host0Dir(g)).key],
    ...["-o", `UserKnownHostsFile=${knownHostsPath(stateDir(g))}`],
    ...["-o", "GlobalKnownHostsFile=/dev/null", "-o", `HostKeyAlias=${t.id}`],
    ...["-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes"],
    ...["-o", "ConnectTimeout=5", "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"],
    `root@${t.ip}`,
    "--",
    cmd,
  ];
}

/** One line saying why ssh itself failed, from its log (-E), or null when the command ran. */
export function sshFailure(t: Target, log: string): string | null {
  const text = log.trim();
  if (text === "") return null; // the remote command exited 255 itself
  const where = `node ${t.id} (${t.ip})`;
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/i.test(text)) {
    return `${where}: its host key changed since first contact; refused (if the node was ` +
      `reinstalled, run mesh node forget -n ${t.id})`;
  }
  if (/Permission denied/i.test(text)) {
    return `${where}: the node refused mesh's key (is it booted from a mesh overlay with sshd?)`;
  }
  const m =
    /(Connection timed out|No route to host|Connection refused|Network is unreachable|timed out)/i
      .exec(text);
  if (m) return `${where}: unreachable: ${m[1]}`;
  return `${where}: ssh: ${text.split("\n").filter((l) => !l.startsWith("@")).pop() ?? text}`;
}

/** What a captured remote command did. `error` is set when ssh itself failed or timed out. */
export interface SshOutput {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: string;
}

/**
 * Runs `cmd` on `t` and captures its output; `stdin` is written to it and
 * closed. A node without a lease, an ssh failure and a timeout come back as
 * `error`, never as a throw.
 */
export async function sshCapture(
  g: GlobalOptions,
  t: Target,
  cmd: string,
  o: { stdin?: string; timeoutMs?: number } = {},
): Promise<SshOutput> {
  if (t.ip === null) {
    return { code: 1, stdout: "", stderr: "", error: `node ${t.id} has no current lease` };
  }
  const tmp = await Deno.makeTempDir({ prefix: "mesh-ssh-" });
  const log = `${tmp}/ssh.log`;
  try {
    const child = new Deno.Command("ssh", {
      args: sshArgs(g, t, log, cmd),
      stdin: o.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let timedOut = false;
    const timer = o.timeoutMs
      ? setTimeout(() => {
        timedOut = true;
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }, o.timeoutMs)
      : undefined;
    if (o.stdin !== undefined) {
      const w = child.stdin.getWriter();
      // A remote end that exits early closes the pipe: its status says why.
      await w.write(new TextEncoder().encode(o.stdin)).catch(() => {});
      await w.close().catch(() => {});
    }
    const r = await child.output();
    clearTimeout(timer);
    const dec = new TextDecoder();
    const out = { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
    if (timedOut) {
      return {
        ...out,
        error: `node ${t.id} (${t.ip}): no answer within ${(o.timeoutMs ?? 0) / 1000} s; stopped`,
      };
    }
    if (r.code === EXIT_SSH) {
      const why = sshFailure(t, await Deno.readTextFile(log).catch(() => ""));
      if (why !== null) return { ...out, error: why };
    }
    return out;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
