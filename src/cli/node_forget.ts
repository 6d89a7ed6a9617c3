/**
 * @module
 * `mesh node forget -n <id|mac>`: removes a node and its history, so its id
 * can bind to another MAC (a node whose network card was replaced is refused
 * its overlay until then: a node id stays bound to the first MAC that
 * identified as it), and unpins its SSH host key (a reinstalled node has a
 * new one). While the daemon runs this goes through its control socket, so
 * the daemon's queued events cannot bring the node back; otherwise it edits
 * the state database directly.
 */
import { existsSync } from "node:fs";
import { unpinHostKey } from "../daemon/mod.ts";
import { NotFoundError } from "../errors.ts";
import { NodeStore, openStore } from "../store/mod.ts";
import { emit, type GlobalOptions, stateDir } from "./context.ts";
import { controlRequest, DaemonDownError } from "./control_client.ts";

function forgetInStore(opts: GlobalOptions, idOrMac: string): { id: string; mac: string | null } {
  const path = `${stateDir(opts)}/mesh.db`;
  if (!existsSync(path)) throw new NotFoundError(`no node with id or MAC "${idOrMac}"`);
  const store = openStore(path);
  try {
    const nodes = new NodeStore(store.db);
    const node = nodes.get(idOrMac, 0);
    if (node === undefined || node.id === null) {
      throw new NotFoundError(`no node with id or MAC "${idOrMac}"`);
    }
    nodes.forget(node.id);
    return { id: node.id, mac: node.mac };
  } finally {
    store.close();
  }
}

async function forgetInDaemon(opts: GlobalOptions, idOrMac: string) {
  const r = await controlRequest(opts, { op: "forget", node: idOrMac });
  if (!r.ok) {
    if (r.error.startsWith("no node")) throw new NotFoundError(r.error);
    throw new Error(`daemon: ${r.error}`);
  }
  return { id: String(r.forgotten), mac: typeof r.mac === "string" ? r.mac : null };
}

export async function nodeForget(opts: GlobalOptions, idOrMac: string): Promise<number> {
  let node;
  try {
    node = await forgetInDaemon(opts, idOrMac);
  } catch (e) {
    if (!(e instanceof DaemonDownError)) throw e;
    node = forgetInStore(opts, idOrMac);
  }
  await unpinHostKey(stateDir(opts), node.id);
  emit(
    opts,
    { forgotten: node.id, mac: node.mac },
    () => `forgot node ${node.id} (was bound to ${node.mac ?? "no MAC"})\n`,
  );
  return 0;
}
