/**
 * @module
 * Parsers for the small line-based files in /host0: UUID, groups, packages,
 * cmdline. Pure: text in, value and ConfigIssue[] out.
 */
import type { ConfigIssue } from "../errors.ts";
import type { PackageEntry } from "./types.ts";

/** Result of a pure parser: a value (possibly partial) and every problem found. */
export interface Parsed<T> {
  readonly value: T;
  readonly issues: ConfigIssue[];
}

const ID_RE = /^[0-9a-f]{8}$/;

/** A UUID file: 8 lower-case hex characters or "default"; null value when invalid. */
export function parseUuidFile(text: string, file: string): Parsed<string | null> {
  const t = text.trim();
  if (ID_RE.test(t) || t === "default") return { value: t, issues: [] };
  const lineCount = t.split("\n").length;
  const detail = t === ""
    ? "UUID file is empty"
    : lineCount > 1
    ? "UUID file must hold a single id"
    : /^[0-9A-Fa-f]{8}$/.test(t)
    ? `id "${t}" must be lower-case hex`
    : `"${t.slice(0, 40)}" is not an 8-character hex node id nor "default"`;
  return { value: null, issues: [{ file, line: 1, message: detail }] };
}

/** Lines with comments and surrounding blanks removed, keeping line numbers. */
export function contentLines(text: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const hash = raw.indexOf("#");
    const t = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (t !== "") out.push({ line: i + 1, text: t });
  }
  return out;
}

/**
 * A machine's `groups` file: one group per line. Unknown groups and groups
 * listed twice are errors at their line (groups are flat, so a repeat is the
 * only possible cycle).
 */
export function parseGroupsFile(
  text: string,
  file: string,
  known: ReadonlySet<string>,
): Parsed<string[]> {
  const issues: ConfigIssue[] = [];
  const value: string[] = [];
  const firstLine = new Map<string, number>();
  for (const { line, text: name } of contentLines(text)) {
    if (/\s/.test(name)) {
      issues.push({ file, line, message: `one group name per line, got "${name}"` });
      continue;
    }
    const seen = firstLine.get(name);
    if (seen !== undefined) {
      issues.push({ file, line, message: `group "${name}" is already listed at line ${seen}` });
      continue;
    }
    firstLine.set(name, line);
    if (!known.has(name)) {
      issues.push({ file, line, message: `no such group "${name}" (no folder groups/${name})` });
      continue;
    }
    value.push(name);
  }
  return { value, issues };
}

/** Alpine package name with an optional @tag and version constraint ("foo>=1.2"). */
const PACKAGE_RE =
  /^[a-z0-9][a-z0-9._+-]*(@[a-z0-9._-]+)?((=|>=|<=|>|<|~|~=|=~|><)[0-9A-Za-z._+~-]+)?$/;

/** True when `text` is an acceptable `packages` line. */
export function isPackageSpec(text: string): boolean {
  return PACKAGE_RE.test(text);
}

/** A `packages` file: one Alpine package per line, `#` comments. */
export function parsePackagesFile(text: string, file: string): Parsed<PackageEntry[]> {
  const issues: ConfigIssue[] = [];
  const value: PackageEntry[] = [];
  for (const { line, text: name } of contentLines(text)) {
    if (!isPackageSpec(name)) {
      issues.push({
        file,
        line,
        message: `"${name}" is not a package name (expected [a-z0-9][a-z0-9._+-]*, ` +
          `optionally with a constraint like foo>=1.2)`,
      });
      continue;
    }
    value.push({ name, file, line });
  }
  return { value, issues };
}

/** A `cmdline` file: extra kernel arguments on one line. */
export function parseCmdlineFile(text: string, file: string): Parsed<string | undefined> {
  const lines = contentLines(text);
  if (lines.length === 0) return { value: undefined, issues: [] };
  const issues: ConfigIssue[] = [];
  if (lines.length > 1) {
    issues.push({ file, line: lines[1]!.line, message: "cmdline must be a single line" });
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(lines[0]!.text)) {
    issues.push({ file, line: lines[0]!.line, message: "control character in cmdline" });
  }
  return { value: lines[0]!.text, issues };
}
