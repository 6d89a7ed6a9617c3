/**
 * @module
 * Seeds a state database with nodes as DHCP and the boot script would have
 * left them: a node record at `stage` and, for a node with an address, a
 * bound lease of an hour on segment eth0. For tests that reach lab nodes
 * (SSH, meshes) without booting them.
 */
import { LeaseState, LeaseStore, NodeStore, openStore, Stage } from "../../src/store/mod.ts";
import { parseIpv4 } from "../../src/wire/mod.ts";

export interface SeededNode {
  readonly id: string;
  readonly mac: string;
  /** Leased address; none: the node is known but holds no lease. */
  readonly ip?: string;
}

export function seedNodes(
  state: string,
  nodes: readonly SeededNode[],
  stage: Stage = Stage.Script,
): void {
  const store = openStore(`${state}/mesh.db`);
  try {
    const reg = new NodeStore(store.db);
    const leases = new LeaseStore(store.db);
    const now = Date.now();
    for (const n of nodes) {
      reg.record({ nodeId: n.id, mac: n.mac, stage, source: "http", at: now });
      if (n.ip === undefined) continue;
      leases.writeNow([{
        ip: parseIpv4(n.ip),
        mac: n.mac,
        clientId: null,
        nodeId: n.id,
        hostname: null,
        state: LeaseState.Bound,
        startsAt: now,
        expiresAt: now + 3600_000,
        segment: "eth0",
        updatedAt: now,
      }]);
    }
    reg.flush();
  } finally {
    store.close();
  }
}
