/**
 * @module
 * Which nodes `mesh node ctl -n <spec>` means, and where each is now: a spec
 * is `all`, `group:<name>`, or a comma list of node ids, MACs and machine
 * folder names; the address is the node's current bound lease.
 */
import { existsSync } from "node:fs";
import { NotFoundError } from "../errors.ts";
import { LeaseStore, NodeStore, openStore } from "../store/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { type GlobalOptions, host0Dir, stateDir } from "./context.ts";

/** A node to run on: its address, or why it has none. */
export interface Target {
  readonly id: string;
  readonly mac: string | null;
  readonly ip: string | null;
}

/** `<host0>/machines/*`: folder → id and groups, read without validating all of /host0. */
function machines(host0: string): { folder: string; id: string; groups: string[] }[] {
  const rows: { folder: string; id: string; groups: string[] }[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${host0}/machines`)];
  } catch {
    return rows;
  }
  const lines = (p: string) => {
    try {
      return Deno.readTextFileSync(p).split("\n").map((l) => l.replace(/#.*/, "").trim())
        .filter((l) => l !== "");
    } catch {
      return [];
    }
  };
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const dir = `${host0}/machines/${e.name}`;
    const id = lines(`${dir}/UUID`)[0]?.toLowerCase();
    if (id === undefined || !/^[0-9a-f]{8}$/.test(id)) continue;
    rows.push({ folder: e.name, id, groups: lines(`${dir}/groups`) });
  }
  return rows;
}

/** Resolves a spec to nodes with their lease addresses. Unknown names throw NotFoundError. */
export function resolveTargets(opts: GlobalOptions, spec: string): Target[] {
  const path = `${stateDir(opts)}/mesh.db`;
  if (!existsSync(path)) throw new NotFoundError(`no node matches "${spec}": no node seen yet`);
  const store = openStore(path);
  try {
    const nodes = new NodeStore(store.db).list().filter((n) => n.id !== null);
    const now = Date.now();
    const leases = new LeaseStore(store.db).loadAll()
      .filter((l) => l.state === "bound" && l.expiresAt > now)
      .sort((a, b) => b.startsAt - a.startsAt);
    const target = (n: (typeof nodes)[number]): Target => {
      const lease = leases.find((l) =>
        (n.mac !== null && l.mac.toLowerCase() === n.mac) || l.nodeId === n.id
      );
      return { id: n.id!, mac: n.mac, ip: lease ? formatIpv4(lease.ip) : null };
    };
    if (spec === "all") {
      if (nodes.length === 0) throw new NotFoundError("no node seen yet");
      return nodes.map(target);
    }
    const known = machines(host0Dir(opts));
    const ids: string[] = [];
    for (const part of spec.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
      if (part.startsWith("group:")) {
        const name = part.slice(6);
        const members = known.filter((m) => m.groups.includes(name)).map((m) => m.id);
        if (members.length === 0) throw new NotFoundError(`no machine is in group "${name}"`);
        ids.push(...members.filter((id) => nodes.some((n) => n.id === id)));
        continue;
      }
      const key = part.toLowerCase();
      const byFolder = known.find((m) => m.folder === part)?.id;
      const node = nodes.find((n) => n.id === key || n.mac === key || n.id === byFolder);
      if (!node) throw new NotFoundError(`no node with id, MAC or machine "${part}"`);
      ids.push(node.id!);
    }
    if (ids.length === 0) throw new NotFoundError(`no node of "${spec}" has been seen yet`);
    return [...new Set(ids)].map((id) => target(nodes.find((n) => n.id === id)!));
  } finally {
    store.close();
  }
}
