/**
 * @module
 * `Range` header decisions (RFC 9110 §14). Pure. Only single byte ranges are
 * honoured; a header with several ranges is ignored and the whole file is
 * sent with 200 (allowed by RFC 9110 §14.2: a server MAY ignore Range), which
 * every boot client copes with and spares us multipart/byteranges. A
 * malformed header is ignored the same way.
 */

/** What to send for a file of a given size. */
export type RangeDecision =
  | { readonly kind: "full" }
  | { readonly kind: "partial"; readonly start: number; readonly end: number }
  | { readonly kind: "unsatisfiable" };

const FULL: RangeDecision = { kind: "full" };

/** Decides the response for `Range: <header>` on a representation of `size` bytes. */
export function decideRange(header: string | null | undefined, size: number): RangeDecision {
  if (header === null || header === undefined) return FULL;
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (m === null) return FULL;
  const spec = m[1]!.trim();
  if (spec.includes(",")) return FULL;
  const r = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
  if (r === null) return FULL;
  const first = r[1]!;
  const last = r[2]!;
  if (first === "" && last === "") return FULL;
  if (first === "") {
    // suffix range: the last N bytes
    const n = Number(last);
    if (!Number.isSafeInteger(n)) return FULL;
    if (n === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return FULL;
  let end = last === "" ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(end)) end = Number.MAX_SAFE_INTEGER;
  if (end < start) return FULL; // invalid range-spec: ignore the header
  if (start >= size) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: Math.min(end, size - 1) };
}
