/**
 * @module
 * Which meshes a machine's overlay joins, and the files that carry them. Pure.
 *
 * A machine with its own id joins the meshes that include it. The default
 * overlay is shared by every node without a folder, so it carries the meshes
 * that include such nodes: every node, the default folder or its groups
 * (then every folderless node), or bare node ids without a folder (then the
 * conf says `only=` those ids, and the script checks its own), and no
 * address: each node computes its own from its id.
 */
import type { Machine, Network } from "../config/mod.ts";
import { centralAddress, meshAddress, meshMac, prefix64 } from "./address.ts";
import { includes, meshesOf } from "./membership.ts";
import {
  NODE_PATHS,
  NODE_SCRIPT,
  NODE_SERVICE,
  type NodeMeshConf,
  renderNodeConf,
} from "./node_script.ts";

/** A generated file of an overlay (path relative to /). */
export interface GeneratedFile {
  readonly path: string;
  readonly text: string;
  readonly mode: number;
}

/** What a machine's overlay gets for its meshes. */
export interface MeshOverlay {
  readonly files: readonly GeneratedFile[];
  /** Alpine packages the script needs. */
  readonly packages: readonly string[];
  /** Symlinks to add: [link path, target], e.g. the default runlevel's service. */
  readonly links: readonly (readonly [string, string])[];
  /** The confs, for tests and logs. */
  readonly meshes: readonly NodeMeshConf[];
}

/** The meshes (as node confs) `machine`'s overlay carries. */
export function nodeMeshConfs(
  networks: readonly Network[],
  machines: readonly Machine[],
  machine: Machine,
  central: string,
): NodeMeshConf[] {
  const isDefault = machine.id === "default";
  const folderIds = new Set(machines.filter((m) => !m.skip).map((m) => m.id));
  const out: NodeMeshConf[] = [];
  for (const n of meshesOf(networks)) {
    let only = "";
    if (isDefault) {
      // a folderless node has no id of its own here: any id matches no folder
      if (!includes(n, machine, "")) {
        const ids = (n.nodes ?? []).filter((e) => /^[0-9a-f]{8}$/.test(e) && !folderIds.has(e));
        if (ids.length === 0) continue;
        only = ids.join(" ");
      }
    } else if (!includes(n, machine, machine.id)) continue;
    out.push({
      name: n.name,
      vni: n.vni,
      prefix: n.prefix,
      prefix64: prefix64(n.prefix),
      address: isDefault ? "" : meshAddress(n.prefix, n.name, machine.id),
      mac: isDefault ? "" : meshMac(n.name, machine.id),
      central,
      central6: centralAddress(n.prefix),
      port: n.port,
      mtu: n.mtu,
      only,
      source: n.file,
    });
  }
  return out;
}

/** The files, packages and service link for `machine`'s meshes; null when it joins none. */
export function meshOverlay(
  networks: readonly Network[],
  machines: readonly Machine[],
  machine: Machine,
  central: string,
): MeshOverlay | null {
  const meshes = nodeMeshConfs(networks, machines, machine, central);
  if (meshes.length === 0) return null;
  return {
    files: [
      ...meshes.map((c) => ({
        path: `${NODE_PATHS.confDir}/${c.name}.conf`,
        text: renderNodeConf(c),
        mode: 0o644,
      })),
      { path: NODE_PATHS.script, text: NODE_SCRIPT, mode: 0o755 },
      { path: NODE_PATHS.service, text: NODE_SERVICE, mode: 0o755 },
    ],
    packages: ["iproute2"],
    links: [[NODE_PATHS.runlevel, `/${NODE_PATHS.service}`]],
    meshes,
  };
}
