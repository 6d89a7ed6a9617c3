/**
 * @module
 * Rendering for the CLI: aligned tables, sizes, times. Pure (returns strings).
 */

/** A column: header and how to get the cell text from a row. */
export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => string;
  readonly align?: "left" | "right";
}

/** Renders rows as an aligned text table with a header line. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((row) => row[i]!.length))
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n") + "\n";
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[u]}`;
}

/** Unix ms → "2026-11-25 14:03:07" in UTC (the console of a flash-booted node runs UTC). */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

/** Milliseconds between two stamps as "+1.234s", or "-" when either is missing. */
export function formatDelta(from: number | undefined, to: number | undefined): string {
  if (from === undefined || to === undefined) return "-";
  return `+${((to - from) / 1000).toFixed(3)}s`;
}
