/**
 * @module
 * The SSH key pair mesh uses to reach its nodes as root: generated once in
 * `<host0>/keys/` (so a backup of /host0 keeps access to the cluster), its
 * public half installed by every overlay. Host keys of the nodes are pinned
 * in `<state>/known_hosts`, by node id (HostKeyAlias), not by address, so a
 * node that gets another lease keeps its pin and another node at its old
 * address does not inherit it.
 */
import { getLogger } from "@logtape/logtape";

const log = getLogger(["mesh", "keys"]);

/** Paths of the key pair. */
export function nodeKeyPaths(host0Dir: string): { dir: string; key: string; pub: string } {
  const dir = `${host0Dir.replace(/\/+$/, "")}/keys`;
  return { dir, key: `${dir}/mesh_ed25519`, pub: `${dir}/mesh_ed25519.pub` };
}

/** Where the host keys of the nodes are pinned. */
export function knownHostsPath(stateDir: string): string {
  return `${stateDir.replace(/\/+$/, "")}/known_hosts`;
}

/** The public key line, or null when no key pair exists yet. */
export async function readNodePublicKey(host0Dir: string): Promise<string | null> {
  try {
    const text = (await Deno.readTextFile(nodeKeyPaths(host0Dir).pub)).trim();
    return text === "" ? null : text;
  } catch {
    return null;
  }
}

/**
 * Returns the public key, generating the pair first when there is none
 * (`ssh-keygen -t ed25519`, no passphrase). Throws with one line when
 * ssh-keygen is missing or fails.
 */
export async function ensureNodeKey(host0Dir: string): Promise<string> {
  const existing = await readNodePublicKey(host0Dir);
  if (existing !== null) return existing;
  const { dir, key } = nodeKeyPaths(host0Dir);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  let out;
  try {
    out = await new Deno.Command("ssh-keygen", {
      args: ["-q", "-t", "ed25519", "-N", "", "-C", "mesh-central-node", "-f", key],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new Error(`cannot generate the node key: ssh-keygen: ${(e as Error).message}`);
  }
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new Error(`cannot generate the node key in ${dir}: ${why}`);
  }
  log.info("generated the SSH key for node access", { key });
  return (await readNodePublicKey(host0Dir))!;
}

/** Removes a node's pinned host key (after `mesh node forget`); quiet when none. */
export async function unpinHostKey(stateDir: string, nodeId: string): Promise<void> {
  const file = knownHostsPath(stateDir);
  try {
    await Deno.stat(file);
  } catch {
    return;
  }
  await new Deno.Command("ssh-keygen", {
    args: ["-R", nodeId, "-f", file],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output().catch(() => undefined);
  await Deno.remove(`${file}.old`).catch(() => {});
}
