/**
 * @module
 * Who is in a mesh and the member list the central node serves in it. Pure:
 * the caller passes the meshes, the machine folders and the nodes that hold
 * a lease.
 *
 * A node belongs to a mesh when its `nodes=` is absent (every node) or names
 * the node's id, its machine folder, or a group of that folder. A node
 * without a folder of its own boots the default machine's overlay, so it
 * has that folder's name and groups here too.
 */
import { DEFAULT_NETWORK, type Machine, type Network } from "../config/mod.ts";
import { centralAddress, meshAddress } from "./address.ts";

/** Every mesh of a /host0: its network files, and the default mesh unless a file replaces it. */
export function meshesOf(networks: readonly Network[]): Network[] {
  return networks.some((n) => n.name === DEFAULT_NETWORK.name)
    ? [...networks]
    : [DEFAULT_NETWORK, ...networks];
}

/** The machine folder whose overlay a node boots: its own, else the default one. */
export function machineFor(
  machines: readonly Machine[],
  nodeId: string,
): Machine | undefined {
  const live = machines.filter((m) => !m.skip);
  return live.find((m) => m.id === nodeId) ?? live.find((m) => m.id === "default");
}

/** True when `nodeId`, booting `machine`'s overlay, belongs to `network`. */
export function includes(network: Network, machine: Machine | undefined, nodeId: string): boolean {
  if (network.nodes === null) return true;
  return network.nodes.some((e) =>
    e === nodeId ||
    (machine !== undefined &&
      (e === machine.folder || (e.startsWith("group:") && machine.groups.includes(e.slice(6)))))
  );
}

/** A node as the central node knows it: its id and the IPv4 address of its lease. */
export interface MeshNode {
  readonly id: string;
  /** Dotted IPv4 (the underlay: where its VXLAN packets go). */
  readonly underlay: string;
}

export interface Member extends MeshNode {
  /** Its address in the mesh. */
  readonly address: string;
}

/** The document served at `http://[<prefix>::1]:<port>/members`. */
export interface MemberList {
  readonly mesh: string;
  readonly vni: number;
  readonly prefix: string;
  /** `<prefix>::1`, the central node. */
  readonly central: string;
  /** Sorted by id; the central node is not listed. */
  readonly members: readonly Member[];
}

/** The members of one mesh among `nodes` (one entry per node id: the first wins). */
export function memberList(
  network: Network,
  machines: readonly Machine[],
  nodes: readonly MeshNode[],
): MemberList {
  const seen = new Set<string>();
  const members: Member[] = [];
  for (const n of nodes) {
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    if (!includes(network, machineFor(machines, n.id), n.id)) continue;
    members.push({ ...n, address: meshAddress(network.prefix, network.name, n.id) });
  }
  members.sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  return {
    mesh: network.name,
    vni: network.vni,
    prefix: network.prefix,
    central: centralAddress(network.prefix),
    members,
  };
}

/**
 * The list as JSON, one member per line: readable with `wget -O -`, and the
 * node script picks `"underlay":"…"` out of it with grep, whatever the layout.
 */
export function renderMemberList(list: MemberList): string {
  const head = JSON.stringify({
    mesh: list.mesh,
    vni: list.vni,
    prefix: list.prefix,
    central: list.central,
  }).slice(0, -1);
  const rows = list.members.map((m) =>
    JSON.stringify({ id: m.id, underlay: m.underlay, address: m.address })
  );
  return rows.length === 0
    ? `${head},"members":[]}\n`
    : `${head},"members":[\n${rows.join(",\n")}\n]}\n`;
}

/** What to change so a tunnel's flood entries (`00:00:00:00:00:00 dst <ip>`) are `want`. */
export function fdbPlan(
  want: readonly string[],
  have: readonly string[],
): { add: string[]; remove: string[] } {
  const w = new Set(want);
  const h = new Set(have);
  return {
    add: [...w].filter((ip) => !h.has(ip)).sort(),
    remove: [...h].filter((ip) => !w.has(ip)).sort(),
  };
}
