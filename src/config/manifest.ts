/**
 * @module
 * The manifest language. One action per line, `#` comments and blank lines
 * ignored:
 *
 *   O MODE=user:group:perms SRC=/host0/... TGT=/abs   overwrite
 *   A MODE=user:group:perms SRC=/host0/... TGT=/abs   append
 *   L SRC=/on/the/node TGT=/abs                       symlink TGT -> SRC
 *   D MODE=user:group:perms TGT=/abs                  directory
 *
 * Pure: whether an O/A source exists, and whether its real location
 * (symlinks followed) is still under /host0, is checked by the loader; the
 * compiler reads it from a descriptor verified to be under /host0.
 */
import type { ConfigIssue } from "../errors.ts";
import {
  ALPINE_GROUP_NAMES,
  ALPINE_GROUPS,
  ALPINE_USER_NAMES,
  ALPINE_USERS,
} from "./alpine_ids.ts";
import type { Parsed } from "./parse_lists.ts";
import { normaliseAbsolute } from "./paths.ts";
import { hint } from "./suggest.ts";
import { type FileMode, ManifestAction, type ManifestLine } from "./types.ts";

const FIELDS = ["MODE", "SRC", "TGT"] as const;
type Field = typeof FIELDS[number];

/** Fields each action requires; any other field is an error. */
const REQUIRED: Readonly<Record<ManifestAction, readonly Field[]>> = {
  O: ["MODE", "SRC", "TGT"],
  A: ["MODE", "SRC", "TGT"],
  L: ["SRC", "TGT"],
  D: ["MODE", "TGT"],
};

const ACTIONS = Object.values(ManifestAction) as readonly string[];
// Largest id a ustar header holds (7 octal digits).
const MAX_ID = 0o7777777;

function lookupId(
  text: string,
  table: Readonly<Record<string, number>>,
): number | null {
  if (/^\d{1,10}$/.test(text)) {
    const n = Number(text);
    return n <= MAX_ID ? n : null;
  }
  return Object.hasOwn(table, text) ? table[text]! : null;
}

/** Parses `user:group:perms`; returns an error message on failure. */
export function parseMode(text: string): FileMode | string {
  const parts = text.split(":");
  if (parts.length !== 3) return `MODE must be user:group:perms, got "${text}"`;
  const [user, group, perms] = parts as [string, string, string];
  const uid = lookupId(user, ALPINE_USERS);
  if (uid === null) {
    return `unknown user "${user}" in MODE${hint(user, Object.keys(ALPINE_USERS))}` +
      " (use a name Alpine ships or a numeric uid)";
  }
  const gid = lookupId(group, ALPINE_GROUPS);
  if (gid === null) {
    return `unknown group "${group}" in MODE${hint(group, Object.keys(ALPINE_GROUPS))}` +
      " (use a name Alpine ships or a numeric gid)";
  }
  if (!/^[0-7]{3,4}$/.test(perms)) return `perms must be 3 or 4 octal digits, got "${perms}"`;
  return {
    uid,
    gid,
    user: /^\d+$/.test(user) ? ALPINE_USER_NAMES.get(uid) ?? "" : user,
    group: /^\d+$/.test(group) ? ALPINE_GROUP_NAMES.get(gid) ?? "" : group,
    perms: parseInt(perms, 8),
  };
}

/**
 * Maps a manifest SRC onto this machine: `/host0/...` becomes
 * `<host0Dir>/...` so a tree works from wherever it is checked out; an
 * absolute path already under host0Dir is kept. Anything else is refused so a
 * backup of /host0 is always complete. A string rule only: a symlink under
 * /host0 may still point elsewhere (load.ts and apkovl/compile.ts refuse it).
 */
export function mapSource(src: string, host0Dir: string): string | null {
  const norm = normaliseAbsolute(src);
  if (norm === null) return null;
  const base = host0Dir.replace(/\/+$/, "");
  if (norm.startsWith("/host0/")) return `${base}${norm.slice("/host0".length)}`;
  if (base.startsWith("/") && norm.startsWith(`${base}/`)) return norm;
  return null;
}

/** Parses one manifest file. Each bad line is one issue; good lines are kept. */
export function parseManifest(
  text: string,
  file: string,
  host0Dir: string,
): Parsed<ManifestLine[]> {
  const issues: ConfigIssue[] = [];
  const value: ManifestLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const t = lines[i]!.trim();
    if (t === "" || t.startsWith("#")) continue;
    const bad = (message: string) => issues.push({ file, line, message });
    const tokens = t.split(/\s+/);
    const action = tokens[0]!;
    if (!ACTIONS.includes(action)) {
      bad(`unknown action "${action.slice(0, 20)}" (expected one of O, A, L, D)`);
      continue;
    }
    const act = action as ManifestAction;
    const fields = new Map<Field, string>();
    let lineOk = true;
    for (const token of tokens.slice(1)) {
      const eq = token.indexOf("=");
      const key = eq === -1 ? token : token.slice(0, eq);
      if (eq === -1) {
        bad(`expected FIELD=value, got "${token.slice(0, 40)}"`);
        lineOk = false;
        continue;
      }
      if (!(FIELDS as readonly string[]).includes(key)) {
        bad(`unknown field "${key.slice(0, 20)}"${hint(key, FIELDS)}`);
        lineOk = false;
        continue;
      }
      const field = key as Field;
      if (!REQUIRED[act].includes(field)) {
        bad(`${act} does not take ${field}`);
        lineOk = false;
        continue;
      }
      if (fields.has(field)) {
        bad(`duplicate field ${field}`);
        lineOk = false;
        continue;
      }
      fields.set(field, token.slice(eq + 1));
    }
    for (const f of REQUIRED[act]) {
      if (!fields.has(f)) {
        bad(`${act} requires ${f}=`);
        lineOk = false;
      }
    }
    if (!lineOk) continue;

    let mode: FileMode | undefined;
    const modeText = fields.get("MODE");
    if (modeText !== undefined) {
      const m = parseMode(modeText);
      if (typeof m === "string") {
        bad(m);
        lineOk = false;
      } else {
        mode = m;
      }
    }
    const tgtText = fields.get("TGT")!;
    const tgt = normaliseAbsolute(tgtText);
    if (!tgtText.startsWith("/")) {
      bad(`TGT must be an absolute path, got "${tgtText.slice(0, 60)}"`);
      lineOk = false;
    } else if (tgt === null) {
      bad(`TGT must not contain "..", got "${tgtText.slice(0, 60)}"`);
      lineOk = false;
    } else if (tgt === "/") {
      bad("TGT must not be /");
      lineOk = false;
    }
    let src: string | undefined;
    const srcText = fields.get("SRC");
    if (srcText !== undefined) {
      if (!srcText.startsWith("/")) {
        bad(`SRC must be an absolute path, got "${srcText.slice(0, 60)}"`);
        lineOk = false;
      } else if (act === "L") {
        src = srcText; // a path on the node; it need not exist here
      } else {
        const mapped = mapSource(srcText, host0Dir);
        if (mapped === null) {
          bad(`SRC must be a file under /host0/ without "..", got "${srcText.slice(0, 60)}"`);
          lineOk = false;
        } else {
          src = mapped;
        }
      }
    }
    if (!lineOk) continue;
    const entry: ManifestLine = { file, line, action: act, tgt: tgt! };
    value.push({
      ...entry,
      ...(mode ? { mode } : {}),
      ...(src !== undefined ? { src, srcText } : {}),
    });
  }
  return { value, issues };
}
