/**
 * @module
 * The I/O shell of `mesh workload` on the nodes' side: probe nodes over SSH
 * (memory, CPUs, /dev/kvm, run root, our address as they see it) and run the
 * supervisor there (sent on stdin with every call). The decisions are in
 * src/workload; this file only carries them.
 */
import {
  type NodeCapacity,
  parseProbe,
  parseRemoteStatus,
  PROBE_COMMAND,
  type RemoteStatus,
  SUPERVISOR_SH,
  supervisorCommand,
  type Unreachable,
} from "../workload/mod.ts";
import type { GlobalOptions } from "./context.ts";
import { sshCapture } from "./node_ssh.ts";
import type { Target } from "./node_targets.ts";

const PROBE_TIMEOUT_MS = 15_000;

/** Probes nodes, 16 at a time: what each can hold, or why it could not be asked. */
export async function probeNodes(
  g: GlobalOptions,
  targets: readonly Target[],
): Promise<{ nodes: NodeCapacity[]; unreachable: Unreachable[] }> {
  const nodes: NodeCapacity[] = [];
  const unreachable: Unreachable[] = [];
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const t = targets[next++]!;
      const r = await sshCapture(g, t, PROBE_COMMAND, { timeoutMs: PROBE_TIMEOUT_MS });
      const cap = r.error === undefined && r.code === 0 ? parseProbe(t.id, r.stdout) : null;
      if (cap) nodes.push(cap);
      else {
        unreachable.push({
          id: t.id,
          error: r.error ??
            `node ${t.id}: no memory and CPU figures (${r.stderr.trim() || r.code})`,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, targets.length) }, worker));
  return { nodes, unreachable };
}

/** Runs one supervisor verb on a node; a failure to run it at all is thrown as one line. */
export async function runSupervisor(
  g: GlobalOptions,
  t: Target,
  verb: "start" | "stop" | "status",
  uuid: string,
  args: readonly string[],
  timeoutMs?: number,
): Promise<{ code: number; status: RemoteStatus }> {
  const r = await sshCapture(g, t, supervisorCommand(verb, uuid, args), {
    stdin: SUPERVISOR_SH,
    ...(timeoutMs ? { timeoutMs } : {}),
  });
  if (r.error !== undefined) throw new Error(r.error);
  const status = parseRemoteStatus(r.stdout);
  if (status === null) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split("\n").pop();
    throw new Error(`node ${t.id} (${t.ip}): the workload supervisor did not answer: ${why}`);
  }
  return { code: r.code, status };
}
