/**
 * @module
 * Names a workload's NICs get on a node, derived from its uuid and the NIC's
 * id so they are the same on every start and on every node (a guest keeps its
 * MAC, and so its DHCP lease and its udev names, when it moves). Pure.
 */
import { createHash } from "node:crypto";

function digest(input: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(input).digest());
}

const hex = (bytes: Uint8Array) => [...bytes].map((x) => x.toString(16).padStart(2, "0"));

/**
 * A locally administered unicast MAC (first octet: bit 1 set, bit 0 clear),
 * from sha256("mac:" + uuid + "/" + nic id).
 */
export function nicMac(uuid: string, nicId: string): string {
  const b = digest(`mac:${uuid}/${nicId}`);
  const bytes = [(b[0]! & 0xfc) | 0x02, b[1]!, b[2]!, b[3]!, b[4]!, b[5]!];
  return hex(new Uint8Array(bytes)).join(":");
}

/**
 * The tap device on the node: `mw` + 8 hex of sha256("tap:" + uuid + "/" +
 * nic id), 10 characters (Linux allows 15).
 */
export function tapName(uuid: string, nicId: string): string {
  return `mw${hex(digest(`tap:${uuid}/${nicId}`).subarray(0, 4)).join("")}`;
}
