/**
 * @module
 * Putting one package of the closure into the staging tree: keep what is
 * already there and still right, hard-link what the served tree has, or
 * download it (resuming a partial file) and verify it before it may enter
 * the tree. A file that fails verification is refused, deleted and fetched
 * again; after `attempts` refusals the run fails with the last reason.
 */
import { getLogger } from "@logtape/logtape";
import { ApkVerifyError } from "./apk_signature.ts";
import { type FetchPolicy, getFile, type Upstream } from "./fetcher.ts";
import type { VerifiedFile } from "./layout.ts";
import { linkInto } from "./publish.ts";
import type { RepoPackage } from "./resolve.ts";
import { verifyPackageFile } from "./verify_file.ts";

/** `main/x86_64/busybox-1.37.0-r12.apk`: where a package sits in a tree. */
export function packageRel(p: RepoPackage): string {
  return `${p.repo}/${p.arch}/${p.name}-${p.version}.apk`;
}

/** How a package got into the new tree. */
export type Placement = "kept" | "linked" | "download";

export interface PackageContext {
  readonly up: Upstream;
  readonly branch: string;
  readonly policy: FetchPolicy;
  readonly staging: string;
  readonly partial: string;
  readonly served: string | null;
  /** Verified files of the last run, by tree-relative path. */
  readonly records: Readonly<Record<string, VerifiedFile>>;
}

async function stat(path: string): Promise<Deno.FileInfo | null> {
  return await Deno.stat(path).catch(() => null);
}

/** True when `info` is still the very file `rec` describes, for this index entry. */
function unchanged(info: Deno.FileInfo, rec: VerifiedFile | undefined, p: RepoPackage): boolean {
  return rec !== undefined && rec.checksum === p.checksum && rec.size === p.size &&
    info.size === rec.size && (info.mtime?.getTime() ?? -1) === rec.mtimeMs &&
    (info.ino ?? -1) === rec.ino;
}

/** Verifies `path`; false (never throws) when it is not the package. */
async function isPackage(path: string, p: RepoPackage, label: string): Promise<boolean> {
  try {
    await verifyPackageFile(path, p, label);
    return true;
  } catch (e) {
    if (e instanceof ApkVerifyError) return false;
    throw e;
  }
}

/**
 * First pass, no network: is the package already in staging (a run that was
 * interrupted), or in the served tree? Files without a matching record are
 * verified by reading them.
 */
export async function placeLocally(c: PackageContext, p: RepoPackage): Promise<Placement> {
  const rel = packageRel(p);
  const staged = `${c.staging}/${rel}`;
  const inStaging = await stat(staged);
  if (inStaging) {
    if (unchanged(inStaging, c.records[rel], p) || await isPackage(staged, p, rel)) return "kept";
    await Deno.remove(staged);
  }
  if (c.served) {
    const servedFile = `${c.served}/${rel}`;
    const info = await stat(servedFile);
    if (info && (unchanged(info, c.records[rel], p) || await isPackage(servedFile, p, rel))) {
      await linkInto(servedFile, staged);
      return "linked";
    }
  }
  return "download";
}

/** Second pass: download, verify, and rename into staging. Returns the refusals it survived. */
export async function download(
  c: PackageContext,
  p: RepoPackage,
  onBytes: (n: number) => void,
): Promise<string[]> {
  const log = getLogger(["mesh", "mirror"]);
  const rel = packageRel(p);
  const url = c.up.where(`${c.branch}/${rel}`);
  const part = `${c.partial}/${rel.replaceAll("/", "_")}`;
  const refused: string[] = [];
  for (let i = 0;; i++) {
    await getFile(c.up, `${c.branch}/${rel}`, part, c.policy, { size: p.size, onBytes });
    try {
      await verifyPackageFile(part, p, url);
      const staged = `${c.staging}/${rel}`;
      await Deno.mkdir(staged.slice(0, staged.lastIndexOf("/")), { recursive: true });
      await Deno.rename(part, staged);
      return refused;
    } catch (e) {
      if (!(e instanceof ApkVerifyError)) throw e;
      refused.push(e.message);
      await Deno.remove(part).catch(() => {});
      if (i + 1 >= c.policy.attempts) {
        throw new Error(`refused after ${c.policy.attempts} attempts: ${e.message}`);
      }
      log.warn("refused {url}: {reason}; fetching it again", { url, reason: e.message });
    }
  }
}

/** The record that lets the next run trust `path` without reading it. */
export async function recordOf(path: string, p: RepoPackage): Promise<VerifiedFile> {
  const info = await Deno.stat(path);
  return {
    checksum: p.checksum,
    size: info.size,
    mtimeMs: info.mtime?.getTime() ?? -1,
    ino: info.ino ?? -1,
  };
}

/** Runs `fn` over `items`, at most `n` at a time; the first failure stops new starts. */
export async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>) {
  let next = 0;
  let failed: { e: unknown } | null = null;
  const worker = async () => {
    while (next < items.length && failed === null) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  if (failed) throw (failed as { e: unknown }).e;
}
