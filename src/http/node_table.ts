/**
 * @module
 * The node table's filter and sort, from the query string (pure), so the
 * page works without JavaScript: `?q=web&stage=kernel&segment=s1&sort=seen&dir=desc`.
 * Unknown values fall back to the defaults rather than failing the page.
 */
import { isStage, type Stage, stageRank } from "./deps.ts";
import type { NodeRowView } from "./status_view.ts";

export const SORT_KEYS = ["id", "machine", "mac", "ip", "segment", "stage", "seen"] as const;
export type SortKey = typeof SORT_KEYS[number];

/** Rows rendered at most; a filter narrows the rest (the page stays quick at any size). */
export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 5000;

export interface TableQuery {
  /** Text matched against id, machine, MAC and IP (case-insensitive). */
  readonly q: string;
  readonly stage: Stage | null;
  readonly segment: string | null;
  readonly sort: SortKey;
  readonly dir: "asc" | "desc";
  readonly limit: number;
  /** The node whose timeline is shown. */
  readonly node: string | null;
}

export function parseTableQuery(get: (name: string) => string | undefined): TableQuery {
  const sortText = get("sort") ?? "";
  const sort = (SORT_KEYS as readonly string[]).includes(sortText) ? sortText as SortKey : null;
  const stage = get("stage");
  const limit = Number(get("limit") ?? DEFAULT_LIMIT);
  const text = (v: string | undefined) => (v ?? "").trim().slice(0, 100);
  return {
    q: text(get("q")),
    stage: stage !== undefined && isStage(stage) ? stage : null,
    segment: text(get("segment")) || null,
    sort: sort ?? "seen",
    // The newest activity first unless asked otherwise: that is where trouble shows.
    dir: get("dir") === "asc" ? "asc" : get("dir") === "desc" ? "desc" : sort ? "asc" : "desc",
    limit: Number.isInteger(limit) && limit >= 1 ? Math.min(limit, MAX_LIMIT) : DEFAULT_LIMIT,
    node: text(get("node")) || null,
  };
}

function ipNumber(ip: string | null): number {
  if (ip === null) return -1;
  const p = ip.split(".").map(Number);
  return p.length === 4 && p.every((x) => x >= 0 && x <= 255)
    ? p.reduce((a, b) => a * 256 + b)
    : -1;
}

function compare(a: NodeRowView, b: NodeRowView, key: SortKey): number {
  const text = (x: string | null, y: string | null) => (x ?? "\uffff").localeCompare(y ?? "\uffff");
  switch (key) {
    case "id":
      return text(a.id ?? a.key, b.id ?? b.key);
    case "machine":
      return text(a.machine, b.machine);
    case "mac":
      return text(a.mac, b.mac);
    case "ip":
      return ipNumber(a.ip) - ipNumber(b.ip);
    case "segment":
      return text(a.segment, b.segment);
    case "stage":
      return stageRank(a.stage) - stageRank(b.stage);
    case "seen":
      return a.lastSeen - b.lastSeen;
  }
}

export function matches(r: NodeRowView, q: TableQuery): boolean {
  if (q.stage !== null && r.stage !== q.stage) return false;
  if (q.segment !== null && r.segment !== q.segment) return false;
  if (q.q === "") return true;
  const needle = q.q.toLowerCase();
  return [r.id, r.machine, r.mac, r.ip].some((v) => v !== null && v.toLowerCase().includes(needle));
}

/** The rows to show, filtered and sorted (ties broken by key, so the order is stable). */
export function selectRows(
  rows: readonly NodeRowView[],
  q: TableQuery,
): { rows: NodeRowView[]; matched: number } {
  const sign = q.dir === "asc" ? 1 : -1;
  const found = rows.filter((r) => matches(r, q)).sort((a, b) =>
    sign * compare(a, b, q.sort) || a.key.localeCompare(b.key)
  );
  return { rows: found.slice(0, q.limit), matched: found.length };
}

/** The query string of `q` with some fields changed (links for sorting, selecting a node). */
export function queryString(
  q: TableQuery,
  change: Partial<Record<keyof TableQuery, string | null>>,
) {
  const base: Record<string, string | null> = {
    q: q.q || null,
    stage: q.stage,
    segment: q.segment,
    sort: q.sort === "seen" && q.dir === "desc" ? null : q.sort,
    dir: q.sort === "seen" && q.dir === "desc" ? null : q.dir,
    limit: q.limit === DEFAULT_LIMIT ? null : String(q.limit),
    node: q.node,
  };
  const merged = { ...base, ...change };
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(merged)) if (v !== null && v !== undefined) p.set(k, v);
  const s = p.toString();
  return s === "" ? "?" : `?${s}`;
}
