/**
 * @module
 * A small typed walker over a `yaml` document that records every problem as a
 * ConfigIssue with the line of the offending node. Pure.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { ConfigIssue } from "../errors.ts";
import { hint } from "./suggest.ts";
import type { SourceAt } from "./types.ts";

/** A node from a parsed document (null for an empty value). */
export type YNode = Node | null | undefined;

/** Parses YAML text; syntax errors become issues at their line. */
export function parseYaml(
  text: string,
  file: string,
): { root: YNode; walker: Walker; ok: boolean } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const walker = new Walker(file, lc);
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : undefined);
    const first = e.message.split("\n")[0]!;
    walker.issues.push(
      line === undefined ? { file, message: first } : { file, line, message: first },
    );
  }
  return { root: doc.contents as YNode, walker, ok: doc.errors.length === 0 };
}

/** Records issues against nodes of one file. */
export class Walker {
  readonly issues: ConfigIssue[] = [];
  constructor(readonly file: string, private readonly lc: LineCounter) {}

  /** 1-based line where the node starts. */
  lineOf(node: YNode): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.lc.linePos(start).line;
  }

  /** Where the node was written (the fallback's line when it has none), for later checks. */
  at(node: YNode, fallback?: YNode): SourceAt | undefined {
    const line = this.lineOf(node) ?? this.lineOf(fallback);
    return line === undefined ? undefined : { file: this.file, line };
  }

  error(node: YNode, message: string, fallback?: YNode): void {
    const line = this.lineOf(node) ?? this.lineOf(fallback);
    this.issues.push(
      line === undefined ? { file: this.file, message } : { file: this.file, line, message },
    );
  }

  /**
   * Entries of a mapping, with unknown keys reported (and dropped) with a
   * "did you mean" hint. `allowed` null accepts any key (e.g. interface names).
   */
  map(
    node: YNode,
    path: string,
    allowed: readonly string[] | null,
    at?: YNode,
  ): Map<string, { key: YNode; value: YNode }> | null {
    if (node === null || node === undefined) return new Map();
    if (isScalar(node) && node.value === null) return new Map();
    if (!isMap(node)) {
      this.error(node, `${path || "top level"} must be a mapping`, at);
      return null;
    }
    const out = new Map<string, { key: YNode; value: YNode }>();
    for (const pair of node.items) {
      const keyNode = pair.key as YNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : null;
      if (key === null) {
        this.error(keyNode, `${path}: keys must be plain strings`, node);
        continue;
      }
      const where = path === "" ? key : `${path}.${key}`;
      if (allowed !== null && !allowed.includes(key)) {
        this.error(keyNode, `unknown key "${where}"${hint(key, allowed)}`, node);
        continue;
      }
      out.set(key, { key: keyNode, value: pair.value as YNode });
    }
    return out;
  }

  /** The items of a sequence, or null (reported) when the node is not one. */
  seq(node: YNode, path: string, at?: YNode): YNode[] | null {
    if (!isSeq(node)) {
      this.error(node, `${path} must be a list`, at);
      return null;
    }
    return node.items as YNode[];
  }

  /** A scalar's value, or undefined (reported) when the node is not a scalar. */
  scalar(node: YNode, path: string, at?: YNode): unknown {
    if (!isScalar(node)) {
      this.error(node, `${path} must be a single value`, at);
      return undefined;
    }
    return node.value;
  }
}
