/**
 * @module
 * Who is asking: the node an HTTP request speaks for. Pure.
 *
 * The boot network is hostile ground, so a request's `mac=`/`uuid=` query is a
 * claim, not an identity. The facts are what our DHCP server saw: the MAC that
 * holds the lease of the asking address, and the SMBIOS UUID that MAC sent in
 * option 97. A node id, once a MAC has identified as it, stays bound to that
 * MAC: another MAC that presents the same UUID (in option 97 or in a query)
 * is not that node. What is left to an attacker on the boot network is to
 * spoof the MAC of a node that is offline (see the README's threat model).
 */
import { parseMac } from "../wire/mod.ts";
import { canonicalUuid, nodeIdFor } from "./node_id.ts";

function macOrNull(text: string | null | undefined): string | null {
  if (!text) return null;
  try {
    return parseMac(text);
  } catch {
    return null;
  }
}

/** What a request says about itself (boot script query or path). */
export interface IdentityClaim {
  readonly mac?: string | null | undefined;
  readonly uuid?: string | null | undefined;
}

/** What the central node knows, independent of the request's words. */
export interface IdentityFacts {
  /** MAC of the lease our DHCP server gave the asking address. */
  readonly leaseMac: string | undefined;
  /** SMBIOS UUID the lease's MAC sent in option 97 when it asked us for an address. */
  readonly dhcpUuid: string | undefined;
  /** The MAC a node id is bound to (the first MAC that identified as it). */
  readonly boundMac: (nodeId: string) => string | undefined;
  /** The node id most recently bound to a MAC. */
  readonly nodeOfMac: (mac: string) => string | undefined;
}

/**
 * "lease": identity comes from our DHCP lease only (server mode, the default).
 * "claim": no lease of ours exists (another DHCP server hands out addresses),
 * so the request's claim is taken, still subject to the MAC binding.
 */
export type IdentityMode = "lease" | "claim";

export type Identity =
  | {
    readonly known: false;
    readonly reason: string;
    /** Claims that were not believed, for the log. */
    readonly ignored: readonly string[];
  }
  | {
    readonly known: true;
    readonly nodeId: string;
    readonly mac: string;
    readonly uuid: string | null;
    readonly ignored: readonly string[];
  };

function boundElsewhere(uuid: string, bound: string): string {
  const id = nodeIdFor({ uuid }).id;
  return `belongs to node ${id}, bound to ${bound} (if that card was replaced: mesh node forget -n ${id})`;
}

/** Decides which node a request speaks for. */
export function identify(facts: IdentityFacts, claim: IdentityClaim, mode: IdentityMode): Identity {
  const ignored: string[] = [];
  const claimedMac = macOrNull(claim.mac);
  const claimedUuid = canonicalUuid(claim.uuid);
  let mac: string;
  const leaseMac = macOrNull(facts.leaseMac);
  if (leaseMac !== null) {
    mac = leaseMac;
    if (claimedMac !== null && claimedMac !== mac) {
      ignored.push(`mac ${claimedMac} contradicts the lease (${mac})`);
    }
  } else if (mode === "claim" && claimedMac !== null) {
    mac = claimedMac;
  } else {
    return {
      known: false,
      reason: mode === "lease" ? "address holds no lease" : "no MAC given",
      ignored,
    };
  }

  // The UUID, most trusted first: what this MAC sent us over DHCP, then the
  // request's claim; a UUID whose node is bound to another MAC is not taken.
  const dhcpUuid = canonicalUuid(facts.dhcpUuid);
  const owner = (uuid: string) => facts.boundMac(nodeIdFor({ uuid }).id);
  let uuid: string | null = null;
  if (dhcpUuid !== null) {
    if (claimedUuid !== null && claimedUuid !== dhcpUuid) {
      ignored.push(`uuid ${claimedUuid} contradicts option 97 (${dhcpUuid})`);
    }
    const bound = owner(dhcpUuid);
    if (bound === undefined || bound === mac) uuid = dhcpUuid;
    else ignored.push(`uuid ${dhcpUuid} (option 97) ${boundElsewhere(dhcpUuid, bound)}`);
  } else if (claimedUuid !== null) {
    const bound = owner(claimedUuid);
    if (bound === undefined || bound === mac) uuid = claimedUuid;
    else ignored.push(`uuid ${claimedUuid} ${boundElsewhere(claimedUuid, bound)}`);
  }
  if (uuid !== null) return { known: true, nodeId: nodeIdFor({ uuid }).id, mac, uuid, ignored };

  // No UUID to go by: the node this MAC identified as before, else the MAC rule.
  const before = facts.nodeOfMac(mac);
  if (before !== undefined && facts.boundMac(before) === mac) {
    return { known: true, nodeId: before, mac, uuid: null, ignored };
  }
  const byMac = nodeIdFor({ mac }).id;
  const bound = facts.boundMac(byMac);
  if (bound !== undefined && bound !== mac) {
    return { known: false, reason: `node id ${byMac} is bound to ${bound}`, ignored };
  }
  return { known: true, nodeId: byMac, mac, uuid: null, ignored };
}
