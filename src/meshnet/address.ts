/**
 * @module
 * Where a node sits in a mesh: its IPv6 address and the MAC of its tunnel,
 * both derived from (mesh name, node id) so they are the same on every boot
 * and computable on the node itself (node_script.ts repeats the rule in sh,
 * and a test holds the two together). Pure.
 *
 * Interface id: the first 8 bytes of sha256("mesh-node:<name>:<id>"), plus 2
 * when that is 0 or 1: `::0` is the subnet-router anycast address and `::1`
 * is the central node's, in every mesh. MAC: the first 6 bytes of
 * sha256("mesh-mac:<name>:<id>") with the locally administered bit set and
 * the multicast bit clear. The central node uses the id "central" (never an
 * 8-hex node id) for its MAC.
 */
import { createHash } from "node:crypto";
import { formatIpv6, parseIpv6 } from "../config/mod.ts";

/** The id the central node's MAC is derived from. */
export const CENTRAL_ID = "central";

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The first 4 groups of a canonical `x::/64` prefix, each as 4 hex digits (for sh). */
export function prefix64(prefix: string): string {
  const groups = parseIpv6(prefix.replace(/\/64$/, ""));
  if (groups === null) throw new RangeError(`not an IPv6 /64: ${prefix}`);
  return groups.slice(0, 4).map((g) => g.toString(16).padStart(4, "0")).join(":");
}

/** 16 hex digits of a node's interface id in a mesh. */
export function interfaceIdHex(meshName: string, nodeId: string): string {
  const h = sha256Hex(`mesh-node:${meshName}:${nodeId}`).slice(0, 16);
  // 2^-63 odds, but the rule must be total: never ::0 or ::1.
  return BigInt(`0x${h}`) < 2n ? (BigInt(`0x${h}`) + 2n).toString(16).padStart(16, "0") : h;
}

/** A node's address in a mesh, canonical (RFC 5952). */
export function meshAddress(prefix: string, meshName: string, nodeId: string): string {
  const iid = interfaceIdHex(meshName, nodeId);
  const text = `${prefix64(prefix)}:${iid.match(/..../g)!.join(":")}`;
  return formatIpv6(parseIpv6(text)!);
}

/** The central node's address in a mesh: `<prefix>::1`. */
export function centralAddress(prefix: string): string {
  const groups = parseIpv6(prefix.replace(/\/64$/, ""));
  if (groups === null) throw new RangeError(`not an IPv6 /64: ${prefix}`);
  return formatIpv6([...groups.slice(0, 4), 0, 0, 0, 1]);
}

/** The MAC of a node's (or, with CENTRAL_ID, the central node's) tunnel and bridge in a mesh. */
export function meshMac(meshName: string, nodeId: string): string {
  const h = sha256Hex(`mesh-mac:${meshName}:${nodeId}`).slice(0, 12);
  const first = ((parseInt(h.slice(0, 2), 16) & 0xfc) | 0x02).toString(16).padStart(2, "0");
  return [first, ...h.slice(2).match(/../g)!].join(":");
}

/** Interface names of a mesh: `vxlan<vni>` (the tunnel) and `br<vni>` (its bridge). */
export function linkNames(vni: number): { vxlan: string; bridge: string } {
  return { vxlan: `vxlan${vni}`, bridge: `br${vni}` };
}
