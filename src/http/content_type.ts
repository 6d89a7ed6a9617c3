/**
 * @module
 * Content types by file name, for what a netboot server hands out. Pure.
 */

const BY_SUFFIX: readonly (readonly [string, string])[] = [
  [".tar.gz", "application/gzip"],
  [".ipxe", "text/plain; charset=utf-8"],
  [".txt", "text/plain; charset=utf-8"],
  [".cfg", "text/plain; charset=utf-8"],
  [".json", "application/json"],
  [".gz", "application/gzip"],
  [".iso", "application/x-iso9660-image"],
  [".efi", "application/octet-stream"],
  [".kpxe", "application/octet-stream"],
  [".pxe", "application/octet-stream"],
  [".apk", "application/octet-stream"],
  [".html", "text/html; charset=utf-8"],
  [".css", "text/css; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".svg", "image/svg+xml"],
  [".pub", "text/plain; charset=utf-8"],
];

/** Content type for a path; unknown suffixes (vmlinuz, modloop-lts, ...) are binary. */
export function contentTypeFor(path: string): string {
  const lower = path.toLowerCase();
  for (const [suffix, type] of BY_SUFFIX) if (lower.endsWith(suffix)) return type;
  return "application/octet-stream";
}
