/**
 * @module
 * `mesh node forget -n <id|mac>`: removes a node and its history from the
 * state database, so its id can bind to another MAC (a node whose network
 * card was replaced is refused its overlay until then: a node id stays bound
 * to the first MAC that identified as it). The daemon reads the database on
 * every identity question, so this takes effect while it runs.
 */
import { existsSync } from "node:fs";
import { NotFoundError } from "../errors.ts";
import { NodeStore, openStore } from "../store/mod.ts";
import { emit, type GlobalOptions, stateDir } from "./context.ts";

export function nodeForget(opts: GlobalOptions, idOrMac: string): number {
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
    emit(
      opts,
      { forgotten: node.id, mac: node.mac },
      () => `forgot node ${node.id} (was bound to ${node.mac ?? "no MAC"})\n`,
    );
    return 0;
  } finally {
    store.close();
  }
}
