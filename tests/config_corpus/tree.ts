/**
 * @module
 * Test helpers for /host0 trees: copy a tree, hash a directory's files.
 */
import { createHash } from "node:crypto";

/** Copies a directory tree (files, directories, symlinks). */
export async function copyTree(src: string, dst: string): Promise<void> {
  await Deno.mkdir(dst, { recursive: true });
  for await (const e of Deno.readDir(src)) {
    const from = `${src}/${e.name}`, to = `${dst}/${e.name}`;
    if (e.isDirectory) await copyTree(from, to);
    else if (e.isSymlink) await Deno.symlink(await Deno.readLink(from), to);
    else await Deno.copyFile(from, to);
  }
}

/** name → sha256 of every regular file directly in `dir`. */
export async function hashDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
  for (const n of names.sort()) {
    out[n] = createHash("sha256").update(await Deno.readFile(`${dir}/${n}`)).digest("hex");
  }
  return out;
}

/** Absolute path of host0-example in this checkout. */
export const HOST0_EXAMPLE = new URL("../../host0-example", import.meta.url).pathname;
