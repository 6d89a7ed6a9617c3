/**
 * @module
 * The node id rule ("genid machine 8"): the first 8 hex characters of
 * sha256("uuid:" + lower-case SMBIOS UUID), or of sha256("mac:" + lower-case
 * colon MAC) when the UUID is missing or all zeros. Pure. The same rule runs on
 * a node as the shell one-liner `NODE_ID_SHELL`, so a node knows its own id.
 */
import { createHash } from "node:crypto";
import { parseMac } from "../wire/mod.ts";

/** An 8-character lower-case hex node id. */
export type NodeId = string;

const NODE_ID_RE = /^[0-9a-f]{8}$/;

/** True when `text` is a well-formed node id. */
export function isNodeId(text: string): boolean {
  return NODE_ID_RE.test(text);
}

/**
 * Canonical SMBIOS UUID, or null when it is absent, malformed or all zeros
 * (cheap boards and some hypervisors report zeros; those must fall back to the
 * MAC or every such node would share one id). iPXE sends ${uuid} in the
 * canonical 8-4-4-4-12 form; all-ff is treated like all-zero for the same reason.
 */
export function canonicalUuid(uuid: string | null | undefined): string | null {
  if (!uuid) return null;
  const u = uuid.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(u)) return null;
  const hex = u.replaceAll("-", "");
  if (/^0+$/.test(hex) || /^f+$/.test(hex)) return null;
  return u;
}

/** What the id was derived from, for logs and `mesh node info`. */
export interface NodeIdSource {
  readonly id: NodeId;
  readonly from: "uuid" | "mac";
  readonly input: string;
}

/**
 * Computes the node id from what the firmware/iPXE reports. Throws RangeError
 * only when neither a usable UUID nor a valid MAC is given.
 */
export function nodeIdFor(ids: { uuid?: string | null; mac?: string | null }): NodeIdSource {
  const uuid = canonicalUuid(ids.uuid);
  const input = uuid !== null ? `uuid:${uuid}` : `mac:${parseMac(ids.mac ?? "")}`;
  const id = createHash("sha256").update(input).digest("hex").slice(0, 8);
  return { id, from: uuid !== null ? "uuid" : "mac", input };
}

/**
 * POSIX sh (busybox) that prints the node id of the machine it runs on, using
 * the interface in $IF (default eth0). Kept byte-compatible with `nodeIdFor`;
 * a test runs it under busybox sh against the TypeScript rule.
 */
export const NODE_ID_SHELL = `u=$(tr A-F a-f 2>/dev/null </sys/class/dmi/id/product_uuid); ` +
  `case "$u" in ""|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff) ` +
  `s="mac:$(tr A-F a-f </sys/class/net/\${IF:-eth0}/address)";; *) s="uuid:$u";; esac; ` +
  `printf %s "$s" | sha256sum | cut -c1-8`;
