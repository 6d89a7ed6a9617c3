/**
 * @module
 * Alpine package versions, compared by the rules of apk-tools (`src/version.c`):
 * `digit{.digit}…{letter}{_suffix{#}}…{~hash}{-r#}`. The mirror must pick the
 * package a node's apk will pick, so this follows apk's tokenizer exactly,
 * including how it orders versions that are not valid. Pure.
 */

/** A dependency's version operator; `~` is apk's fuzzy (prefix) match. */
export type VersionOp = "<" | "<=" | "=" | ">=" | ">" | "~" | "<~" | ">~";

/** Token kinds in the order apk numbers them: the order decides the tail comparison. */
const Tok = {
  initialDigit: 0,
  digit: 1,
  letter: 2,
  suffix: 3,
  suffixNo: 4,
  commitHash: 5,
  revisionNo: 6,
  end: 7,
  invalid: 8,
} as const;
type Tok = typeof Tok[keyof typeof Tok];

/** Suffix ranks: below `none` sorts before the release, above it after. */
const SUFFIX_RANK = {
  alpha: 1,
  beta: 2,
  pre: 3,
  rc: 4,
  // 5 is "no suffix": the release itself.
  cvs: 6,
  svn: 7,
  git: 8,
  hg: 9,
  p: 10,
} as const;
const SUFFIX_NONE = 5;

/** Result bits as apk's `APK_VERSION_*` (a comparison yields exactly one). */
const LESS = 2;
const EQUAL = 1;
const GREATER = 4;

const OP_MASK: Readonly<Record<VersionOp, number>> = {
  "<": LESS,
  "<=": LESS | EQUAL,
  "=": EQUAL,
  ">=": GREATER | EQUAL,
  ">": GREATER,
  "~": EQUAL,
  "<~": LESS | EQUAL,
  ">~": GREATER | EQUAL,
};

interface TokenState {
  readonly s: string;
  pos: number;
  kind: Tok;
  /** The token's text (digits without the dot, the letter, the suffix word, the hash). */
  text: string;
  /** Digits as apk reads them into a uint64 (wrapping), or the suffix rank. */
  num: bigint | number;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isLower = (c: string | undefined) => c !== undefined && c >= "a" && c <= "z";
const isHex = (c: string | undefined) => isDigit(c) || (c !== undefined && c >= "a" && c <= "f");

function parseDigits(t: TokenState): void {
  const start = t.pos;
  while (isDigit(t.s[t.pos])) t.pos++;
  t.text = t.s.slice(start, t.pos);
  if (t.text === "") {
    t.kind = Tok.invalid;
    return;
  }
  // apk accumulates into a uint64 and lets it wrap; 15 digits always fit a double.
  t.num = t.text.length <= 15
    ? Number(t.text)
    : [...t.text].reduce((v, d) => BigInt.asUintN(64, v * 10n + BigInt(d)), 0n);
}

function first(s: string): TokenState {
  const t: TokenState = { s, pos: 0, kind: Tok.initialDigit, text: "", num: 0 };
  parseDigits(t);
  return t;
}

/** Advances to the next token, checking that it may follow the previous one. */
function next(t: TokenState): void {
  const c = t.s[t.pos];
  if (c === undefined) {
    t.kind = Tok.end;
    return;
  }
  const prev = t.kind;
  const invalid = () => {
    t.kind = Tok.invalid;
  };
  if (isLower(c)) {
    if (prev > Tok.digit) return invalid();
    t.kind = Tok.letter;
    t.text = c;
    t.pos++;
  } else if (c === "." || isDigit(c)) {
    if (c === ".") {
      if (prev > Tok.digit) return invalid();
      t.pos++;
    }
    if (prev === Tok.initialDigit || prev === Tok.digit) t.kind = Tok.digit;
    else if (prev === Tok.suffix) t.kind = Tok.suffixNo;
    else return invalid();
    parseDigits(t);
  } else if (c === "_") {
    if (prev > Tok.suffixNo) return invalid();
    const start = ++t.pos;
    while (isLower(t.s[t.pos])) t.pos++;
    t.text = t.s.slice(start, t.pos);
    if (!Object.hasOwn(SUFFIX_RANK, t.text)) return invalid();
    t.kind = Tok.suffix;
    t.num = SUFFIX_RANK[t.text as keyof typeof SUFFIX_RANK];
  } else if (c === "~") {
    if (prev >= Tok.commitHash) return invalid();
    const start = ++t.pos;
    while (isHex(t.s[t.pos])) t.pos++;
    t.text = t.s.slice(start, t.pos);
    if (t.text === "") return invalid();
    t.kind = Tok.commitHash;
  } else if (c === "-") {
    if (prev >= Tok.revisionNo || t.s[t.pos + 1] !== "r") return invalid();
    t.pos += 2;
    t.kind = Tok.revisionNo;
    parseDigits(t);
  } else {
    invalid();
  }
}

/** Byte-wise string order, shorter first on a common prefix (apk_blob_sort). */
function stringOrder(a: string, b: string): number {
  return a < b ? LESS : a > b ? GREATER : EQUAL;
}

function tokenOrder(a: TokenState, b: TokenState): number {
  const k = a.kind;
  // A leading zero on either side means "compare as text" (the Gentoo rule): 1.02 < 1.1.
  const asText = k === Tok.letter || k === Tok.commitHash ||
    (k === Tok.digit && (a.text.startsWith("0") || b.text.startsWith("0")));
  if (asText) return stringOrder(a.text, b.text);
  // Digits (the first component always numeric), suffix ranks, suffix and revision
  // numbers. (A number and a bigint compare correctly with < and >.)
  return a.num < b.num ? LESS : a.num > b.num ? GREATER : EQUAL;
}

/** apk_version_compare_fuzzy: one of LESS, EQUAL, GREATER. */
function compareBits(a: string, b: string, fuzzy: boolean): number {
  const ta = first(a);
  const tb = first(b);
  while (ta.kind === tb.kind && ta.kind < Tok.end) {
    const r = tokenOrder(ta, tb);
    if (r !== EQUAL) return r;
    next(ta);
    next(tb);
  }
  if (ta.kind === tb.kind) return EQUAL;
  // Fuzzy: `b` ran out first with everything so far equal, so `a` starts with `b`.
  if (tb.kind === Tok.end && fuzzy) return EQUAL;
  // Equal so far: the longer one is newer, unless what it has next is a pre-release suffix.
  if (ta.kind === Tok.suffix && (ta.num as number) < SUFFIX_NONE) return LESS;
  if (tb.kind === Tok.suffix && (tb.num as number) < SUFFIX_NONE) return GREATER;
  if (ta.kind > tb.kind) return LESS;
  if (tb.kind > ta.kind) return GREATER;
  return EQUAL;
}

/**
 * Orders two versions as apk does: -1 when `a` is older, 1 when newer. Invalid
 * versions still get apk's answer (compared up to the first bad token, which
 * sorts below any valid continuation), so the solver never has to special-case them.
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const r = compareBits(a, b, false);
  return r === LESS ? -1 : r === GREATER ? 1 : 0;
}

/**
 * Whether `version` satisfies `op want`. `~` is apk's fuzzy match: `want`'s
 * components are a prefix of `version`'s (`1.2.3 ~ 1.2`, but not `1.20 ~ 1.2`);
 * `<~`/`>~` are "less/greater, or fuzzy equal".
 */
export function satisfies(version: string, op: VersionOp, want: string): boolean {
  const fuzzy = op === "~" || op === "<~" || op === ">~";
  return (compareBits(version, want, fuzzy) & OP_MASK[op]) !== 0;
}

/** Whether apk accepts `version` as a version (apk_version_validate). */
export function isValidVersion(version: string): boolean {
  const t = first(version);
  while (t.kind < Tok.end) next(t);
  return t.kind === Tok.end;
}

/** The operator that a run of `<`, `>`, `=`, `~` means to apk, or null (`><` is a checksum pin). */
export function versionOpFrom(text: string): VersionOp | null {
  let less = false, greater = false, equal = false, fuzzy = false;
  for (const c of text) {
    if (c === "<") less = true;
    else if (c === ">") greater = true;
    else if (c === "=") equal = true;
    else if (c === "~") fuzzy = equal = true;
    else return null;
  }
  if (less && greater) return null;
  if (fuzzy) return less ? "<~" : greater ? ">~" : "~";
  if (less) return equal ? "<=" : "<";
  if (greater) return equal ? ">=" : ">";
  return equal ? "=" : null;
}
