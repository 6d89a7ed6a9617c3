/**
 * @module
 * Loader for `<state>/apkovl/index.json`, written by the APKOVL compiler:
 * `{ "<id or default>": { "folder": "...", "sha256": "...", "size": n } }`
 * with the overlays beside it as `<id>.tar.gz`. Read once per publish, so
 * requests never scan the disk.
 */
import { ConfigError } from "../errors.ts";
import type { OverlayFile } from "./deps.ts";

export interface OverlayIndexEntry extends OverlayFile {
  /** Machine folder the overlay was compiled from. */
  readonly folder: string;
  readonly sha256: string;
}

/** Overlays by node id (and "default"). */
export type OverlayIndex = ReadonlyMap<string, OverlayIndexEntry>;

const KEY = /^([0-9a-f]{8}|default)$/;

/** Validates the parsed index.json (pure); `file` names the index in errors. */
export function parseOverlayIndex(data: unknown, dir: string, file: string): OverlayIndex {
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError({ file, message: "overlay index must be a JSON object" });
  }
  const out = new Map<string, OverlayIndexEntry>();
  const issues: { file: string; message: string }[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const v = value as Record<string, unknown> | null;
    if (!KEY.test(key)) {
      issues.push({ file, message: `key "${key}" is neither a node id nor "default"` });
      continue;
    }
    if (
      typeof v !== "object" || v === null || typeof v.folder !== "string" ||
      typeof v.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(v.sha256) ||
      typeof v.size !== "number" || !Number.isSafeInteger(v.size) || v.size < 0
    ) {
      issues.push({ file, message: `entry "${key}" needs folder, sha256 (64 hex) and size` });
      continue;
    }
    out.set(key, {
      folder: v.folder,
      sha256: v.sha256,
      size: v.size,
      path: `${dir.replace(/\/+$/, "")}/${key}.tar.gz`,
      // content-addressed, so it is a strong validator that survives restarts
      etag: `"${v.sha256.slice(0, 32)}"`,
    });
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

/** Reads and validates `<dir>/index.json`. Throws ConfigError when it is unusable. */
export async function loadOverlayIndex(dir: string): Promise<OverlayIndex> {
  const file = `${dir.replace(/\/+$/, "")}/index.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Map();
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError({ file, message: `not valid JSON: ${(e as Error).message}` });
  }
  return parseOverlayIndex(data, dir, file);
}
