/**
 * @module
 * The `APKINDEX` text file inside APKINDEX.tar.gz: one record per package,
 * records separated by blank lines, each line `X:value` (apk-package.5, and
 * apk-tools `database.c`/`package.c` for how apk itself reads it). Pure: text
 * in, packages and every problem (with its line) out; no input throws.
 */
import { isValidVersion, type VersionOp, versionOpFrom } from "./version.ts";

/** One entry of `D:` or `i:`: `name`, `name>=1.2`, or `!name` (a conflict). */
export interface Dependency {
  readonly name: string;
  readonly op?: VersionOp;
  readonly version?: string;
  /** `!name`: must not be installed together; never pulled in. */
  readonly conflict: boolean;
}

/** One entry of `p:`: `so:libc.musl-x86_64.so.1=1` has a version, `cmd:ls` none. */
export interface Provide {
  readonly name: string;
  readonly version?: string;
}

export interface ApkPackage {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly size: number;
  readonly installedSize: number;
  /** `C:` as given: `Q1` + base64(SHA-1 of the control stream), e.g. "Q1...=". */
  readonly checksum: string;
  readonly description?: string;
  readonly url?: string;
  readonly license?: string;
  readonly origin?: string;
  readonly maintainer?: string;
  readonly buildTime?: number;
  readonly commit?: string;
  readonly depends: readonly Dependency[];
  readonly provides: readonly Provide[];
  readonly installIf: readonly Dependency[];
  /** `k:`: lets a non-versioned provide be chosen automatically, and ranks such providers. */
  readonly providerPriority?: number;
  /** 1-based line where its record starts. */
  readonly line: number;
}

export interface IndexProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface ParsedIndex {
  packages: ApkPackage[];
  problems: IndexProblem[];
}

/** Characters that start a version operator in a dependency (apk's DEPENDENCY_COMPARER). */
const OP_CHARS = /[<>=~]/;
const NUMBER = /^[0-9]+$/;
/** `Q1`/`Q2` + base64 or `X1`/`X2` + hex: the encodings apk_blob_pull_digest accepts. */
const CHECKSUM = /^(Q[12][A-Za-z0-9+/]+=*|X[12][0-9a-f]+)$/;
/** Fields only the installed database has; apk skips them in an index, so do we. */
const INSTALLED_DB_FIELDS = new Set(["F", "M", "R", "Z", "r", "q", "a", "s", "f", "g"]);

/**
 * Parses one dependency token: `[!]name[op version]`. Null when it is not one
 * (empty name, an operator without a version, `><` checksum pins, whitespace).
 * The version is not validated here: apk keeps a dependency with a bad version
 * and compares it as it can, and so do we (the index parser reports it).
 */
export function parseDependency(text: string): Dependency | null {
  const t = text.trim();
  if (t === "" || /\s/.test(t)) return null;
  const conflict = t.startsWith("!");
  const spec = conflict ? t.slice(1) : t;
  const at = spec.search(OP_CHARS);
  if (at === -1) return spec === "" ? null : { name: spec, conflict };
  const name = spec.slice(0, at);
  const rest = spec.slice(at);
  const opLen = rest.search(/[^<>=~]/);
  if (name === "" || opLen === -1) return null;
  const op = versionOpFrom(rest.slice(0, opLen));
  if (op === null) return null;
  return { name, op, version: rest.slice(opLen), conflict };
}

/** The text form apk writes (`!name`, `name>=1.2`). */
export function formatDependency(d: Dependency): string {
  return `${d.conflict ? "!" : ""}${d.name}${
    d.op && d.version !== undefined ? d.op + d.version : ""
  }`;
}

interface Draft {
  line: number;
  fields: Map<string, string>;
  depends: Dependency[];
  provides: Provide[];
  installIf: Dependency[];
  installIfBroken: boolean;
}

const newDraft = (line: number): Draft => ({
  line,
  fields: new Map(),
  depends: [],
  provides: [],
  installIf: [],
  installIfBroken: false,
});

/**
 * Parses APKINDEX text. A record missing `P:`, `V:` or a well-formed `C:` is
 * skipped (apk will not load it either); so is a last record with no blank
 * line after it (apk drops it: the file was cut short). Everything else that
 * is wrong is reported and the record kept as far as it makes sense.
 */
export function parseApkIndex(text: string, file: string): ParsedIndex {
  const packages: ApkPackage[] = [];
  const problems: IndexProblem[] = [];
  const problem = (line: number, message: string) => problems.push({ file, line, message });
  const lines = text.split("\n");
  // split() leaves one "" after a final newline: that is the end, not a blank line.
  if (lines.at(-1) === "") lines.pop();
  let draft: Draft | null = null;
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    // apk ends a record at any line shorter than two characters.
    if (raw.length < 2) {
      if (raw.length === 1) problem(line, `stray line ${JSON.stringify(raw)} ends the record`);
      if (draft) finish(draft, packages, problem);
      draft = null;
      continue;
    }
    if (raw[1] !== ":") {
      problem(line, `not a "X:value" line: ${JSON.stringify(raw.slice(0, 60))}`);
      continue;
    }
    draft ??= newDraft(line);
    addField(draft, raw[0]!, raw.slice(2), line, problem);
  }
  if (draft) {
    problem(
      draft.line,
      "record has no blank line after it (truncated index?); skipped, as apk does",
    );
  }
  return { packages, problems };
}

type Report = (line: number, message: string) => void;

function addField(d: Draft, key: string, value: string, line: number, problem: Report): void {
  switch (key) {
    case "D":
      d.depends.push(...parseList(value, "D", line, problem).deps);
      return;
    case "i": {
      const { deps, bad } = parseList(value, "i", line, problem);
      // A partly understood install_if would fire too eagerly: apk drops the rule.
      if (bad) d.installIfBroken = true;
      d.installIf.push(...deps);
      return;
    }
    case "p":
      for (const dep of parseList(value, "p", line, problem).deps) {
        const { name, op, version } = dep;
        if (dep.conflict || (op !== undefined && op !== "=")) {
          problem(line, `p: ${formatDependency(dep)}: a provide is "name" or "name=version"`);
        } else d.provides.push(version === undefined ? { name } : { name, version });
      }
      return;
  }
  if ("CPVASITULomtck".includes(key) || INSTALLED_DB_FIELDS.has(key)) {
    d.fields.set(key, value);
  } else if (key >= "A" && key <= "Z") {
    // apk marks a package with an unknown upper-case field as not installable.
    problem(line, `unknown field ${key}: (apk will not install this package)`);
  }
  // Unknown lower-case fields are newer optional data: apk ignores them, so do we.
  if ("SItk".includes(key) && !isCount(value)) {
    problem(line, `${key}: ${JSON.stringify(value)} is not a number`);
  }
}

function parseList(
  value: string,
  key: string,
  line: number,
  problem: Report,
): { deps: Dependency[]; bad: boolean } {
  const deps: Dependency[] = [];
  let bad = false;
  // apk separates dependencies by spaces (and newlines, which a line cannot hold).
  for (const token of value.split(" ")) {
    if (token === "") continue;
    const dep = parseDependency(token);
    if (dep === null) {
      problem(line, `${key}: ${JSON.stringify(token)} is not a dependency`);
      bad = true;
      continue;
    }
    if (dep.version !== undefined && !isValidVersion(dep.version)) {
      problem(line, `${key}: ${token}: invalid version "${dep.version}"`);
    }
    deps.push(dep);
  }
  return { deps, bad };
}

const isCount = (v: string) => NUMBER.test(v) && Number.isSafeInteger(Number(v));

function num(d: Draft, key: string): number | undefined {
  const v = d.fields.get(key);
  return v !== undefined && isCount(v) ? Number(v) : undefined;
}

function finish(d: Draft, out: ApkPackage[], problem: Report): void {
  const f = d.fields;
  const name = f.get("P");
  const version = f.get("V");
  const checksum = f.get("C");
  if (!name || !version) {
    problem(d.line, `record has no ${!name ? "P: (name)" : "V: (version)"}; skipped`);
    return;
  }
  if (checksum === undefined || !CHECKSUM.test(checksum)) {
    const what = checksum === undefined ? "no C: checksum" : `bad C: checksum "${checksum}"`;
    problem(d.line, `${name}: ${what}; skipped, as apk does`);
    return;
  }
  if (!isValidVersion(version)) problem(d.line, `${name}: invalid version "${version}"`);
  const optional = (key: string) => f.get(key) || undefined;
  const pkg: ApkPackage = {
    name,
    version,
    arch: f.get("A") ?? "",
    size: num(d, "S") ?? 0,
    installedSize: num(d, "I") ?? 0,
    checksum,
    description: optional("T"),
    url: optional("U"),
    license: optional("L"),
    origin: optional("o"),
    maintainer: optional("m"),
    buildTime: num(d, "t"),
    commit: optional("c"),
    depends: d.depends,
    provides: d.provides,
    installIf: d.installIfBroken ? [] : d.installIf,
    providerPriority: num(d, "k"),
    line: d.line,
  };
  // Leave absent fields out rather than present-and-undefined: deepEqual and JSON agree.
  out.push(
    Object.fromEntries(Object.entries(pkg).filter(([, v]) => v !== undefined)) as ApkPackage,
  );
}
