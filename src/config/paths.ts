/**
 * @module
 * Path string helpers for /host0 (POSIX only; mesh runs on Linux). Pure.
 */

/** Joins a directory as the user gave it with a relative path. */
export function joinPath(dir: string, rel: string): string {
  if (dir === "" || dir === ".") return rel;
  return `${dir.replace(/\/+$/, "") || "/"}/${rel}`.replace(/^\/\//, "/");
}

/**
 * Normalises an absolute path: collapses "//" and "/./", drops a trailing "/".
 * Returns null for relative paths and for paths with a ".." component (those
 * are refused rather than resolved, so a manifest line means what it says).
 */
export function normaliseAbsolute(path: string): string | null {
  if (!path.startsWith("/")) return null;
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return null;
    parts.push(part);
  }
  return `/${parts.join("/")}`;
}
