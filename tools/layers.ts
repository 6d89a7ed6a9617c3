/**
 * `deno task layers`: checks the module boundaries of the architecture
 * ("Layout", "Rules that keep it easy to live in") over every file in src/.
 * Prints one `file:line: message` per violation and a count, and exits 1 when
 * there is any.
 *
 * Modules: each folder `src/<name>/` is one module (sub-folders such as
 * `testdata/` belong to it); a top-level file such as `src/errors.ts` or
 * `src/log.ts` is a module of its own. Imports are found with regular
 * expressions over the source with comments removed: `import … from "x"`,
 * `export … from "x"`, `import "x"` and `import("x")`. Only relative
 * specifiers that land in src/ matter; npm:, node: and mapped names are
 * ignored.
 *
 * Test files are `*_test.ts`, `_*.ts` fixtures whose name says test or fixture
 * (`_app_fixture.ts`, `_test_client.ts`; not `_min_heap.ts`), anything under a
 * `testdata/` folder, and all of `src/testing/`.
 *
 * Rules:
 * - deep-import: a file may import any file of its own module (so a test may
 *   import every file of the folder it sits in) and a top-level module file;
 *   from another folder only that folder's `mod.ts`. `src/testing/` has no
 *   mod.ts: its files may be imported directly, but only by test files.
 * - cycle: the graph of modules, built from the imports of non-test files,
 *   has no cycles. Each elementary cycle is reported once, as
 *   `src/a -> src/b -> src/a`, at the first import of its first edge.
 * - impure: the files listed in PURE (protocol decisions and codecs) use no
 *   `Deno.*`, no clock (`Date.now()`, `new Date()`, `performance.now()`), no
 *   randomness (`Math.random()`, `crypto.getRandomValues`), no timers
 *   (`setTimeout`, `setInterval`), no logging (`console.*`, logtape,
 *   src/log.ts) and import nothing from src/net (sockets and FFI; the pure
 *   byte helpers live in src/wire). Strings and comments are not searched.
 *   Tests beside pure files are exempt.
 * - sql: no string literal outside src/store starts a SQL statement
 *   (`SELECT `, `INSERT INTO`, `UPDATE <table> SET`, `DELETE FROM`,
 *   `CREATE TABLE`, `BEGIN IMMEDIATE`, at the start of the literal or after a
 *   `;`, upper case). Tests are exempt.
 *
 * ALLOWED lists accepted exceptions, each with its reason; an entry that no
 * longer matches anything is itself reported, so the list cannot go stale.
 */

/** One broken rule. */
export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly rule: Rule;
  readonly message: string;
}

export type Rule = "deep-import" | "cycle" | "impure" | "sql" | "allow-list";

/** A pure folder (path ends in "/", minus `except`) or a pure file. */
export interface PureEntry {
  readonly path: string;
  /** File names inside a pure folder that are I/O shells. */
  readonly except?: readonly string[];
}

/** An accepted violation: `file` and `rule` must match, and `detail` must occur in the message. */
export interface Allowed {
  readonly file: string;
  readonly rule: Rule;
  readonly detail: string;
  readonly reason: string;
}

export interface LayersConfig {
  readonly pure: readonly PureEntry[];
  readonly allowed: readonly Allowed[];
}

/**
 * Where protocol decisions and codecs live: bytes in, a decision out. Checked
 * against the tree: these are the files that are pure today. Not listed, on
 * purpose: src/dhcp/probe_ahead.ts (the timer-driven I/O shell around the
 * conflict probe: setInterval, setTimeout, performance.now), the DHCP server
 * and service, conflict_probe.ts, and the TFTP driver (server.ts, transfer.ts,
 * files.ts, read_ahead.ts).
 */
export const PURE: readonly PureEntry[] = [
  { path: "src/wire/" },
  { path: "src/boot/" },
  { path: "src/config/", except: ["load.ts", "load_workloads.ts"] },
  { path: "src/arp/" },
  { path: "src/workload/" },
  { path: "src/dhcp/options.ts" },
  { path: "src/dhcp/packet.ts" },
  { path: "src/dhcp/client.ts" },
  { path: "src/dhcp/authoritative.ts" },
  { path: "src/dhcp/proxy.ts" },
  { path: "src/dhcp/leases.ts" },
  { path: "src/dhcp/lease_types.ts" },
  { path: "src/dhcp/pxe_options.ts" },
  { path: "src/dhcp/option_values.ts" },
  { path: "src/dhcp/boot_reply.ts" },
  { path: "src/dhcp/destination.ts" },
  { path: "src/dhcp/constants.ts" },
  { path: "src/dhcp/flood_guard.ts" },
  { path: "src/dhcp/reply.ts" },
  { path: "src/dhcp/_min_heap.ts" },
  { path: "src/dhcp/server_stats.ts" },
  { path: "src/dhcp/lease_client.ts" },
  { path: "src/dhcp/rogue_guard.ts" },
  { path: "src/dhcp/dhcp_probe.ts" },
  { path: "src/topology/", except: ["arp_scan.ts"] },
  { path: "src/tftp/packet.ts" },
  { path: "src/tftp/negotiate.ts" },
  { path: "src/tftp/netascii.ts" },
  { path: "src/tftp/session.ts" },
  { path: "src/apkovl/overlay.ts" },
  { path: "src/meshnet/" },
  { path: "src/http/overlay_name.ts" },
  { path: "src/http/range.ts" },
  { path: "src/http/conditional.ts" },
  { path: "src/http/content_type.ts" },
  { path: "src/http/metrics_text.ts" },
  { path: "src/http/status_view.ts" },
  { path: "src/http/node_table.ts" },
  { path: "src/net/netlink.ts" },
  { path: "src/ra/packet.ts" },
  { path: "src/mirror/version.ts" },
  { path: "src/mirror/apkindex.ts" },
  { path: "src/mirror/resolve.ts" },
  { path: "src/mirror/gzip_members.ts" },
  { path: "src/mirror/tar_read.ts" },
  { path: "src/mirror/apk_signature.ts" },
  { path: "src/mirror/apk_package.ts" },
  { path: "src/mirror/wanted.ts" },
];

/** Accepted exceptions. Keep it short, and say why. */
export const ALLOWED: readonly Allowed[] = [];

export const DEFAULT_CONFIG: LayersConfig = { pure: PURE, allowed: ALLOWED };

// ---------------------------------------------------------------------------
// Lexing: just enough of TypeScript to tell code, strings and comments apart.

interface StringLiteral {
  /** Raw text between the quotes (for a template: one chunk between `${…}`). */
  readonly value: string;
  readonly offset: number;
}

interface Lexed {
  /** The source with comments blanked (same length, newlines kept). */
  readonly code: string;
  /** `code` with the contents of strings, templates and regexes blanked as well. */
  readonly bare: string;
  readonly strings: readonly StringLiteral[];
}

const REGEX_AFTER_WORD = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "yield",
  "await",
]);

function lex(src: string): Lexed {
  const code = src.split("");
  const bare = src.split("");
  const strings: StringLiteral[] = [];
  const blank = (arr: string[], from: number, to: number) => {
    for (let k = from; k < to; k++) if (arr[k] !== "\n") arr[k] = " ";
  };
  /** Brace depths at which an open template's `${` expression started. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  /** Last significant code character (or word) before i, to tell `/` from a regex. */
  let prev = "";

  const scanTemplate = (start: number): void => {
    // `start` is just after "`" or "}" (end of an expression).
    let j = start;
    while (j < src.length) {
      const c = src[j];
      if (c === "\\") {
        j += 2;
        continue;
      }
      if (c === "`") {
        strings.push({ value: src.slice(start, j), offset: start });
        blank(bare, start, j);
        i = j + 1;
        prev = "`";
        return;
      }
      if (c === "$" && src[j + 1] === "{") {
        strings.push({ value: src.slice(start, j), offset: start });
        blank(bare, start, j);
        templates.push(depth);
        depth++;
        i = j + 2;
        prev = "{";
        return;
      }
      j++;
    }
    blank(bare, start, src.length);
    i = src.length;
  };

  while (i < src.length) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === "/" && n === "/") {
      const end = src.indexOf("\n", i);
      const stop = end === -1 ? src.length : end;
      blank(code, i, stop);
      blank(bare, i, stop);
      i = stop;
      continue;
    }
    if (c === "/" && n === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end === -1 ? src.length : end + 2;
      blank(code, i, stop);
      blank(bare, i, stop);
      i = stop;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      strings.push({ value: src.slice(i + 1, j), offset: i + 1 });
      blank(bare, i + 1, j);
      i = j + 1;
      prev = c;
      continue;
    }
    if (c === "`") {
      scanTemplate(i + 1);
      continue;
    }
    if (
      c === "/" &&
      (prev === "" || "(,=:[!&|?{};+-*%<>~^".includes(prev) || REGEX_AFTER_WORD.has(prev))
    ) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== "\n") {
        const d = src[j];
        if (d === "\\") {
          j += 2;
          continue;
        }
        if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        j++;
      }
      blank(bare, i + 1, j);
      i = j + 1;
      prev = "/re";
      continue;
    }
    if (c === "{") depth++;
    if (c === "}") {
      if (templates.length > 0 && templates[templates.length - 1] === depth - 1) {
        templates.pop();
        depth--;
        scanTemplate(i + 1);
        continue;
      }
      depth--;
    }
    if (/[\w$]/.test(c)) {
      let j = i;
      while (j < src.length && /[\w$]/.test(src[j]!)) j++;
      prev = src.slice(i, j);
      i = j;
      continue;
    }
    if (!/\s/.test(c)) prev = c;
    i++;
  }
  return { code: code.join(""), bare: bare.join(""), strings };
}

function lineAt(src: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset && k < src.length; k++) if (src.charCodeAt(k) === 10) line++;
  return line;
}

// ---------------------------------------------------------------------------
// Imports and modules.

interface Import {
  readonly specifier: string;
  /** Offset of the statement (or of `import(`). */
  readonly offset: number;
}

const STATIC_IMPORT =
  /^[ \t]*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\}|[\w$]+)\s*from\s*(["'])([^"'\r\n]+)\1/gm;
const BARE_IMPORT = /^[ \t]*import\s*(["'])([^"'\r\n]+)\1/gm;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*(["'`])([^"'`\r\n]+)\1\s*[,)]/g;

function importsOf(code: string): Import[] {
  const out: Import[] = [];
  for (const re of [STATIC_IMPORT, BARE_IMPORT, DYNAMIC_IMPORT]) {
    for (const m of code.matchAll(re)) {
      const lead = m[0].length - m[0].trimStart().length;
      out.push({ specifier: m[2]!, offset: m.index + lead });
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** Resolves a relative specifier against the importing file; null for anything else. */
function resolve(from: string, specifier: string): string | null {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return null;
  const parts = from.split("/").slice(0, -1);
  for (const p of specifier.split("/")) {
    if (p === "." || p === "") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts.join("/");
}

/** The module a src/ file belongs to: "src/dhcp" for a folder, "src/errors.ts" for a top-level file. */
function moduleOf(path: string): string | null {
  if (!path.startsWith("src/")) return null;
  const rest = path.slice(4).split("/");
  return rest.length === 1 ? path : `src/${rest[0]}`;
}

const isFolderModule = (mod: string): boolean => !/\.[a-z]+$/.test(mod);

/** Tests, test fixtures, test data and the fakes of src/testing/. */
export function isTestFile(path: string): boolean {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return /_test\.[jt]sx?$/.test(name) ||
    (name.startsWith("_") && /test|fixture/.test(name)) ||
    path.split("/").includes("testdata") ||
    path.startsWith("src/testing/");
}

function isPure(path: string, pure: readonly PureEntry[]): boolean {
  if (isTestFile(path)) return false;
  return pure.some((e) => {
    if (!e.path.endsWith("/")) return path === e.path;
    if (!path.startsWith(e.path)) return false;
    const rest = path.slice(e.path.length);
    return !(e.except ?? []).includes(rest);
  });
}

// ---------------------------------------------------------------------------
// The check.

const IMPURE: readonly [RegExp, string][] = [
  [/\bDeno\s*\./g, "Deno.*"],
  [/\bDate\s*\.\s*now\s*\(/g, "Date.now()"],
  [/\bnew\s+Date\s*\(\s*\)/g, "new Date()"],
  [/\bperformance\s*\.\s*now\s*\(/g, "performance.now()"],
  [/\bMath\s*\.\s*random\s*\(/g, "Math.random()"],
  [/\bcrypto\s*\.\s*getRandomValues\b/g, "crypto.getRandomValues"],
  [/\bsetTimeout\b/g, "setTimeout"],
  [/\bsetInterval\b/g, "setInterval"],
  // `w.console.x` is a property of that name, not the logger.
  [/(?<![.\w$])console\s*\./g, "console.*"],
];

const SQL =
  /(?:^|;)\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+[\w"]+\s+SET\s|DELETE\s+FROM\s|CREATE\s+TABLE\s|BEGIN\s+IMMEDIATE\b)/;

/** Checks a set of files (path relative to the repository root → source). Pure. */
export function checkLayers(
  files: ReadonlyMap<string, string>,
  config: LayersConfig = DEFAULT_CONFIG,
): Violation[] {
  const found: Violation[] = [];
  /** Module graph: from → to → first import (file, line) making that edge. */
  const edges = new Map<string, Map<string, { file: string; line: number }>>();
  const paths = [...files.keys()].filter((p) => p.startsWith("src/")).sort();

  for (const file of paths) {
    const src = files.get(file)!;
    const lexed = lex(src);
    const mod = moduleOf(file)!;
    const test = isTestFile(file);
    const pure = isPure(file, config.pure);

    for (const imp of importsOf(lexed.code)) {
      if (pure && imp.specifier.startsWith("@logtape/")) {
        found.push({
          file,
          line: lineAt(src, imp.offset),
          rule: "impure",
          message: "logging in a pure file (return it)",
        });
      }
      const target = resolve(file, imp.specifier);
      if (target === null) continue;
      const line = lineAt(src, imp.offset);
      const targetMod = moduleOf(target);
      if (targetMod === null) continue;
      if (pure && target === "src/log.ts") {
        found.push({ file, line, rule: "impure", message: "logging in a pure file (return it)" });
      }
      if (pure && targetMod === "src/net") {
        found.push({
          file,
          line,
          rule: "impure",
          message:
            `pure file imports ${target} (src/net is sockets and FFI; byte helpers are in src/wire)`,
        });
      }
      if (targetMod === mod) continue;
      if (!test) {
        const out = edges.get(mod) ?? new Map();
        edges.set(mod, out);
        if (!out.has(targetMod)) out.set(targetMod, { file, line });
      }
      if (!isFolderModule(targetMod)) continue;
      if (targetMod === "src/testing") {
        if (!test) {
          found.push({
            file,
            line,
            rule: "deep-import",
            message: `${target}: src/testing/ is for tests only`,
          });
        }
        continue;
      }
      if (target !== `${targetMod}/mod.ts`) {
        found.push({
          file,
          line,
          rule: "deep-import",
          message: `deep import of ${target}: import from ${targetMod}/mod.ts`,
        });
      }
    }

    if (pure) {
      for (const [re, what] of IMPURE) {
        for (const m of lexed.bare.matchAll(re)) {
          found.push({
            file,
            line: lineAt(src, m.index),
            rule: "impure",
            message: `${what} in a pure file (inject it)`,
          });
        }
      }
    }

    if (!test && mod !== "src/store") {
      for (const s of lexed.strings) {
        const m = SQL.exec(s.value);
        if (m === null) continue;
        found.push({
          file,
          line: lineAt(src, s.offset + m.index + m[0].length - m[1]!.length),
          rule: "sql",
          message: `SQL (${m[1]!.trim().split(/\s+/).join(" ")}…) outside src/store`,
        });
      }
    }
  }

  found.push(...cycles(edges));
  return applyAllowList(found, config.allowed).sort((a, b) =>
    a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line
  );
}

/** Every elementary cycle of the module graph, once each (started at its smallest module). */
function cycles(edges: Map<string, Map<string, { file: string; line: number }>>): Violation[] {
  const out: Violation[] = [];
  const nodes = [...edges.keys()].sort();
  const limit = 100;
  for (const start of nodes) {
    const path = [start];
    const onPath = new Set(path);
    const walk = (at: string): void => {
      for (const next of [...(edges.get(at)?.keys() ?? [])].sort()) {
        if (out.length >= limit) return;
        if (next === start) {
          const first = edges.get(start)!.get(path[1] ?? start)!;
          out.push({
            file: first.file,
            line: first.line,
            rule: "cycle",
            message: `import cycle between folders: ${[...path, start].join(" -> ")}`,
          });
        } else if (next > start && !onPath.has(next)) {
          path.push(next);
          onPath.add(next);
          walk(next);
          onPath.delete(next);
          path.pop();
        }
      }
    };
    walk(start);
  }
  return out;
}

function applyAllowList(found: Violation[], allowed: readonly Allowed[]): Violation[] {
  const used = new Set<Allowed>();
  const kept = found.filter((v) => {
    const a = allowed.find((a) =>
      a.file === v.file && a.rule === v.rule && v.message.includes(a.detail)
    );
    if (a === undefined) return true;
    used.add(a);
    return false;
  });
  for (const a of allowed) {
    if (used.has(a)) continue;
    kept.push({
      file: a.file,
      line: 1,
      rule: "allow-list",
      message: `allow-list entry matches nothing (${a.rule}: ${a.detail}); remove it`,
    });
  }
  return kept;
}

// ---------------------------------------------------------------------------
// The command.

async function readTree(root: string, dir: string, into: Map<string, string>): Promise<void> {
  const entries: Deno.DirEntry[] = [];
  for await (const e of Deno.readDir(`${root}/${dir}`)) entries.push(e);
  for (const e of entries) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) await readTree(root, path, into);
    else if (e.isFile && /\.(ts|tsx|js|mjs)$/.test(e.name)) {
      into.set(path, await Deno.readTextFile(`${root}/${path}`));
    }
  }
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const files = new Map<string, string>();
  await readTree(root, "src", files);
  const violations = checkLayers(files);
  for (const v of violations) console.log(`${v.file}:${v.line}: ${v.message} [${v.rule}]`);
  if (violations.length > 0) {
    console.log(`${violations.length} layer violation${violations.length === 1 ? "" : "s"}`);
    Deno.exit(1);
  }
  console.log(`layers: ${files.size} files in src/, no violations`);
}
