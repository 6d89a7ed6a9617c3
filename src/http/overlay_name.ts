/**
 * @module
 * What an overlay URL names. Alpine's initramfs substitutes `{MAC}` (lower-case,
 * colon-separated) and `{UUID}` (SMBIOS product_uuid) in `apkovl=`; our boot
 * scripts use the node id. Pure.
 */
import { canonicalUuid, isNodeId } from "../boot/mod.ts";
import { parseMac } from "../wire/mod.ts";

export type OverlayName =
  | { readonly kind: "default" }
  | { readonly kind: "id"; readonly id: string }
  | { readonly kind: "mac"; readonly mac: string }
  | { readonly kind: "uuid"; readonly uuid: string }
  /** A UUID that cannot identify a node (all zeros / all ff). */
  | { readonly kind: "anonymous" };

const UUID_SHAPE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MAC_SHAPE = /^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

/** Parses `<name>.tar.gz` (file name only); null when it names nothing we serve. */
export function parseOverlayName(file: string): OverlayName | null {
  if (!file.endsWith(".tar.gz")) return null;
  const stem = file.slice(0, -".tar.gz".length);
  if (stem === "default") return { kind: "default" };
  if (isNodeId(stem)) return { kind: "id", id: stem };
  if (MAC_SHAPE.test(stem)) return { kind: "mac", mac: parseMac(stem) };
  if (UUID_SHAPE.test(stem)) {
    const uuid = canonicalUuid(stem);
    return uuid === null ? { kind: "anonymous" } : { kind: "uuid", uuid };
  }
  return null;
}
