/**
 * @module
 * The central node's side of the cluster networks (src/meshnet): for each
 * mesh, `br<vni>` holding `<prefix>::1` with its unicast tunnel `vxlan<vni>`,
 * a flood entry to every member's lease address, and the member list served
 * at `http://[<prefix>::1]:<port>/members`, inside the mesh only.
 *
 * Members are the nodes holding a bound lease whose id is still bound to the
 * lease's MAC in the node registry (a forgotten node is gone at once) and
 * that the mesh's `nodes=` includes. `apply` follows a (re)loaded /host0;
 * `refresh` follows leases and the registry (a timer, and after a forget).
 * A mesh whose links cannot be made (no iproute2, no CAP_NET_ADMIN, no vxlan
 * module) is logged and left out: the boot services do not depend on it.
 */
import { getLogger } from "@logtape/logtape";
import type { Host0, Network } from "../config/mod.ts";
import {
  CENTRAL_ID,
  centralAddress,
  fdbPlan,
  type MemberList,
  memberList,
  meshesOf,
  meshMac,
  type MeshNode,
  renderMemberList,
} from "../meshnet/mod.ts";
import {
  createMeshLinks,
  listenMembers,
  listFloodEntries,
  type MemberListener,
  removeMeshLinks,
  setFloodEntries,
} from "../net/mod.ts";
import { LeaseState, type LeaseStore, type NodeStore } from "../store/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";

const log = getLogger(["mesh", "daemon", "meshnet"]);

/** How often leases and the registry are looked at again. */
export const MESH_REFRESH_MS = 2_000;

interface Running {
  readonly network: Network;
  readonly listener: MemberListener;
  /** Flood entries we put on the tunnel (we own it: nothing else adds any). */
  readonly floods: Set<string>;
  list: MemberList;
}

/** What makes a mesh's links and listener: a change of any means making them afresh. */
function linkKey(n: Network): string {
  return `${n.vni}|${n.prefix}|${n.port}|${n.mtu}`;
}

export class CentralMeshes {
  readonly #running = new Map<string, Running>();
  #host0: Host0 | null = null;
  #busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly leases: LeaseStore,
    private readonly registry: NodeStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** The member lists being served, by mesh name (status, tests). */
  get lists(): MemberList[] {
    return [...this.#running.values()].map((r) => r.list);
  }

  /** Makes the links of `host0`'s meshes (removing those gone or changed), then refreshes. */
  apply(host0: Host0): Promise<void> {
    return this.#serial(async () => {
      this.#host0 = host0;
      const wanted = new Map(meshesOf(host0.networks).map((n) => [n.name, n]));
      for (const [name, r] of this.#running) {
        const next = wanted.get(name);
        if (next === undefined || linkKey(next) !== linkKey(r.network)) await this.#stop(name);
      }
      for (const [name, n] of wanted) {
        const r = this.#running.get(name);
        if (r) {
          // same links; nodes= may have changed
          this.#running.set(name, { ...r, network: n });
          continue;
        }
        await this.#start(n);
      }
      await this.#sync();
    });
  }

  /** Recomputes every member list from the leases and the registry. */
  refresh(): Promise<void> {
    return this.#serial(() => this.#sync());
  }

  /**
   * The timer's refresh: only when a lease was written or one of the members'
   * leases ran out since the last look (reading every lease every two seconds
   * would cost a thousand-node cluster's event loop for nothing).
   */
  tick(): Promise<void> {
    if (this.leases.stats.rowsWritten === this.#seenRows && this.now() < this.#nextExpiry) {
      return Promise.resolve();
    }
    return this.refresh();
  }

  /** leases.stats.rowsWritten at the last look. */
  #seenRows = -1;
  /** When the first lease among the members runs out. */
  #nextExpiry = -Infinity;

  /** Stops every listener and removes every link. */
  close(): Promise<void> {
    return this.#serial(async () => {
      for (const name of [...this.#running.keys()]) await this.#stop(name);
    });
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#busy.then(fn).catch((e) =>
      log.error("mesh networks: update failed", { error: String(e) })
    );
    this.#busy = next;
    return next;
  }

  async #start(n: Network): Promise<void> {
    const address = centralAddress(n.prefix);
    try {
      await createMeshLinks({ vni: n.vni, mac: meshMac(n.name, CENTRAL_ID), mtu: n.mtu, address });
    } catch (e) {
      log.warn("mesh network not set up", { mesh: n.name, vni: n.vni, error: String(e) });
      return;
    }
    const empty = memberList(n, [], []);
    let listener: MemberListener;
    try {
      listener = listenMembers(address, n.port, (req) => {
        const path = new URL(req.url).pathname;
        if (path !== "/members" && path !== "/") {
          return new Response("not found\n", { status: 404 });
        }
        const list = this.#running.get(n.name)?.list ?? empty;
        return new Response(renderMemberList(list), {
          headers: { "content-type": "application/json", "cache-control": "no-store" },
        });
      });
    } catch (e) {
      await removeMeshLinks(n.vni, meshMac(n.name, CENTRAL_ID));
      log.warn("mesh network not set up: member list cannot listen", {
        mesh: n.name,
        address: `[${address}]:${n.port}`,
        error: String(e),
      });
      return;
    }
    this.#running.set(n.name, { network: n, listener, floods: new Set(), list: empty });
    log.info("mesh network up", {
      mesh: n.name,
      vni: n.vni,
      address,
      members: `http://[${address}]:${n.port}/members`,
    });
  }

  async #stop(name: string): Promise<void> {
    const r = this.#running.get(name);
    if (!r) return;
    this.#running.delete(name);
    await r.listener.close();
    await removeMeshLinks(r.network.vni, meshMac(name, CENTRAL_ID));
    log.info("mesh network removed", { mesh: name, vni: r.network.vni });
  }

  /** The nodes with a bound lease still bound to its MAC, newest lease first. */
  #nodes(): MeshNode[] {
    const now = this.now();
    this.#seenRows = this.leases.stats.rowsWritten;
    const rows = this.leases.loadAll()
      .filter((r) => r.state === LeaseState.Bound && r.expiresAt > now)
      .sort((a, b) => b.startsAt - a.startsAt);
    this.#nextExpiry = rows.reduce((m, r) => Math.min(m, r.expiresAt), Infinity);
    const out: MeshNode[] = [];
    for (const r of rows) {
      const id = r.nodeId ?? this.registry.nodeOfMac(r.mac);
      if (id === undefined || id === null) continue;
      if (this.registry.boundMac(id)?.toLowerCase() !== r.mac.toLowerCase()) continue;
      out.push({ id, underlay: formatIpv4(r.ip) });
    }
    return out;
  }

  async #sync(): Promise<void> {
    const host0 = this.#host0;
    if (host0 === null || this.#running.size === 0) return;
    const nodes = this.#nodes();
    for (const r of this.#running.values()) {
      const list = memberList(r.network, host0.machines, nodes);
      const plan = fdbPlan(list.members.map((m) => m.underlay), [...r.floods]);
      try {
        await setFloodEntries(r.network.vni, plan.add, plan.remove);
      } catch (e) {
        // some went in, some not: read back what the tunnel holds
        log.warn("mesh flood entries: update failed", { mesh: r.network.name, error: String(e) });
        const now = await listFloodEntries(r.network.vni).catch(() => [...r.floods]);
        r.floods.clear();
        for (const ip of now) r.floods.add(ip);
        this.#seenRows = -1; // try again on the next tick
        continue;
      }
      for (const ip of plan.add) r.floods.add(ip);
      for (const ip of plan.remove) r.floods.delete(ip);
      if (plan.add.length + plan.remove.length > 0) {
        log.info("mesh members changed", {
          mesh: r.network.name,
          members: list.members.length,
          // a storm joins hundreds at once: the first few name them
          joined: plan.add.length > 8
            ? [...plan.add.slice(0, 8), `+${plan.add.length - 8}`]
            : plan.add,
          left: plan.remove.length > 8
            ? [...plan.remove.slice(0, 8), `+${plan.remove.length - 8}`]
            : plan.remove,
        });
      }
      r.list = list;
    }
  }
}
