/**
 * @module
 * The whole error catalogue of mesh. Expected outcomes ("not for us") are never
 * errors; these classes are for bad input and bad configuration only.
 */

/** Bytes that cannot be decoded. Names the field and the byte offset. */
export class DecodeError extends SyntaxError {
  override name = "DecodeError";
  constructor(readonly field: string, readonly offset: number, detail: string) {
    super(`Cannot decode ${field} at offset ${offset}: ${detail}`);
  }
}

/** One problem found in /host0, located by file and (when known) line. */
export interface ConfigIssue {
  readonly file: string;
  readonly line?: number;
  readonly message: string;
}

/** Formats an issue as `file:line: message` (or `file: message`). */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.line === undefined ? issue.file : `${issue.file}:${issue.line}`;
  return `${where}: ${issue.message}`;
}

/**
 * A bad /host0 (or mesh.yaml). Carries every problem found, not just the first;
 * the message is the first problem so a one-line report is still useful.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue | readonly ConfigIssue[]) {
    const list = Array.isArray(issues) ? issues as readonly ConfigIssue[] : [issues as ConfigIssue];
    super(list.length === 0 ? "invalid configuration" : list.map(formatIssue).join("\n"));
    this.issues = list;
  }
  /** File of the first issue. */
  get file(): string | undefined {
    return this.issues[0]?.file;
  }
  /** Line of the first issue. */
  get line(): number | undefined {
    return this.issues[0]?.line;
  }
}

/** A lookup that found nothing (node, lease, machine). */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}

/** A state directory already used by another running daemon. */
export class StateLockedError extends Error {
  override name = "StateLockedError";
  constructor(readonly holderPid: number, readonly lockFile: string) {
    super(`state directory is in use by mesh pid ${holderPid} (lock ${lockFile})`);
  }
}
