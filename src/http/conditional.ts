/**
 * @module
 * Validators and conditional requests (RFC 9110 §8.8, §13). Pure.
 */

/** Strong ETag from size and modification time (the nginx recipe). */
export function fileEtag(size: number, mtime: Date | null): string {
  const t = mtime === null ? 0 : Math.floor(mtime.getTime() / 1000);
  return `"${t.toString(16)}-${size.toString(16)}"`;
}

function opaque(tag: string): string {
  const t = tag.trim();
  return t.startsWith("W/") ? t.slice(2) : t;
}

/** `If-None-Match` (weak comparison): true when one listed tag matches. */
export function noneMatchHits(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const want = opaque(etag);
  return header.split(",").some((t) => opaque(t) === want);
}

/**
 * True when the client's copy is current, so a GET/HEAD gets 304.
 * `If-None-Match` wins over `If-Modified-Since` when both are present.
 */
export function notModified(
  headers: { ifNoneMatch: string | null; ifModifiedSince: string | null },
  etag: string,
  mtime: Date | null,
): boolean {
  if (headers.ifNoneMatch !== null) return noneMatchHits(headers.ifNoneMatch, etag);
  if (headers.ifModifiedSince !== null && mtime !== null) {
    const since = Date.parse(headers.ifModifiedSince);
    if (Number.isNaN(since)) return false;
    return Math.floor(mtime.getTime() / 1000) * 1000 <= since;
  }
  return false;
}

/**
 * `If-Range`: the range applies only when the validator still matches (strong
 * comparison for ETags, exact second for dates); otherwise send the whole file.
 */
export function ifRangeHolds(header: string | null, etag: string, mtime: Date | null): boolean {
  if (header === null) return true;
  const h = header.trim();
  if (h.startsWith('"') || h.startsWith("W/")) return !h.startsWith("W/") && h === etag;
  const at = Date.parse(h);
  return mtime !== null && !Number.isNaN(at) && Math.floor(mtime.getTime() / 1000) * 1000 === at;
}
