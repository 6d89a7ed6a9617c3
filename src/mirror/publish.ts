/**
 * @module
 * Building and switching trees. A new tree is assembled in the staging
 * directory (hard links to the files the served tree already has, new
 * downloads renamed in), then published in two renames: the staging
 * directory becomes `.mesh/trees/<branch>.<gen>`, and a fresh symlink
 * pointing at it is renamed over `<mirror.dir>/<branch>`. rename(2) replaces
 * the old symlink atomically, so every request sees either the old tree or
 * the new one, never a mix or nothing; a run that fails before that rename
 * leaves the served tree untouched. (Two directories cannot be swapped by
 * one rename: moving the old one away first would leave a moment with no
 * mirror at all; renameat2(RENAME_EXCHANGE) would need FFI.) The previous
 * tree is kept until the next publish, so a node that read the old index a
 * moment ago still finds the packages it names.
 */
import { type Layout, servedTree } from "./layout.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Hard-links `src` at `dst` (replacing it), creating parent directories. */
export async function linkInto(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst.slice(0, dst.lastIndexOf("/")), { recursive: true });
  await Deno.remove(dst).catch(() => {});
  await Deno.link(src, dst);
}

/** Every regular file under `dir` as relative path → inode. */
export async function listTree(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (rel: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(rel ? `${dir}/${rel}` : dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      throw e;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else if (e.isFile) out.set(r, (await Deno.lstat(`${dir}/${r}`)).ino ?? 0);
    }
  };
  await walk("");
  return out;
}

/** Hard-links every file of `src` under `prefix` into `dst` (same relative paths). */
export async function linkSubtree(src: string, dst: string, prefix: string): Promise<number> {
  const files = await listTree(`${src}/${prefix}`);
  for (const rel of files.keys()) {
    await linkInto(`${src}/${prefix}/${rel}`, `${dst}/${prefix}/${rel}`);
  }
  return files.size;
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).filter((e) => e.isDirectory).map((e) =>
      e.name
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/**
 * Links into staging every arch of the served tree that this run did not
 * ask for (`--arch aarch64` must not wipe x86_64), adding their files to
 * `keep`. Returns those arches.
 */
export async function carryOver(
  served: string,
  staging: string,
  tops: readonly string[],
  asked: readonly string[],
  keep: Set<string>,
): Promise<string[]> {
  const carried = new Set<string>();
  for (const top of tops) {
    for (const arch of await subdirs(`${served}/${top}`)) {
      if (asked.includes(arch)) continue;
      await linkSubtree(served, staging, `${top}/${arch}`);
      for (const rel of (await listTree(`${served}/${top}/${arch}`)).keys()) {
        keep.add(`${top}/${arch}/${rel}`);
      }
      carried.add(arch);
    }
  }
  return [...carried].sort();
}

/** Removes the files of `dir` that `keep` refuses; returns their relative paths. */
export async function prune(dir: string, keep: (rel: string) => boolean): Promise<string[]> {
  const gone: string[] = [];
  for (const rel of (await listTree(dir)).keys()) {
    if (keep(rel)) continue;
    await Deno.remove(`${dir}/${rel}`);
    gone.push(rel);
  }
  return gone.sort();
}

/** True when both trees hold the same paths with the same inodes (nothing to publish). */
export async function sameTree(a: string, b: string | null): Promise<boolean> {
  if (b === null) return false;
  const [x, y] = [await listTree(a), await listTree(b)];
  if (x.size !== y.size) return false;
  for (const [rel, ino] of x) if (y.get(rel) !== ino) return false;
  return true;
}

/**
 * Publishes the staging tree: returns the new tree's path. `now` names the
 * generation. Removes this branch's trees older than the one it replaces.
 */
export async function publishTree(l: Layout, now: number): Promise<string> {
  await Deno.mkdir(l.trees, { recursive: true });
  const previous = await servedTree(l);
  let gen = `${l.branch}.${now}`;
  for (let i = 1; await exists(`${l.trees}/${gen}`); i++) gen = `${l.branch}.${now}-${i}`;
  const tree = `${l.trees}/${gen}`;
  await Deno.rename(l.staging, tree);
  const swap = `${l.mirrorDir}/.${l.branch}.swap`;
  await Deno.remove(swap).catch(() => {});
  // Relative, so the mirror directory can be moved or mounted elsewhere.
  await Deno.symlink(`.mesh/trees/${gen}`, swap);
  const info = await Deno.lstat(l.served).catch(() => null);
  if (info && !info.isSymlink) {
    // A tree copied in by hand before mesh managed it: keep it as the "previous" tree.
    // This one time the path is missing between two renames (microseconds).
    await Deno.rename(l.served, `${l.trees}/${l.branch}.${now}-manual`);
  }
  await Deno.rename(swap, l.served);
  await collectTrees(l, [tree, previous ?? `${l.trees}/${l.branch}.${now}-manual`]);
  return tree;
}

/** Removes this branch's trees except `keep` (the served one and the one before). */
async function collectTrees(l: Layout, keep: readonly string[]): Promise<void> {
  for await (const e of Deno.readDir(l.trees)) {
    const path = `${l.trees}/${e.name}`;
    if (!e.name.startsWith(`${l.branch}.`) || keep.includes(path)) continue;
    await Deno.remove(path, { recursive: true });
  }
}
