/**
 * @module
 * Where the mirror lives on disk, and mesh's bookkeeping beside it:
 *
 * ```
 * <mirror.dir>/<branch>            symlink → .mesh/trees/<branch>.<gen> (what HTTP serves)
 * <mirror.dir>/.mesh/trees/        published trees: the served one and the one before
 * <mirror.dir>/.mesh/work/<branch>/tree/     the next tree, being built (kept if a run fails)
 * <mirror.dir>/.mesh/work/<branch>/partial/  downloads in progress (resumed with Range)
 * <mirror.dir>/.mesh/<branch>.json           state: what was verified, validators, last run
 * <mirror.dir>/.mesh/<branch>.lock           one download per branch at a time
 * ```
 *
 * Everything sits under `<mirror.dir>` so that hard links (unchanged files
 * are shared between trees, not copied) and renames stay on one file system,
 * and so that the served symlink resolves inside the HTTP root.
 */

/** Paths of one branch's mirror. */
export interface Layout {
  readonly mirrorDir: string;
  readonly branch: string;
  /** `<mirror.dir>/<branch>`: the served path (a symlink after the first publish). */
  readonly served: string;
  readonly meta: string;
  readonly trees: string;
  readonly staging: string;
  readonly partial: string;
  readonly state: string;
  readonly lock: string;
}

export function layout(mirrorDir: string, branch: string): Layout {
  const meta = `${mirrorDir}/.mesh`;
  return {
    mirrorDir,
    branch,
    served: `${mirrorDir}/${branch}`,
    meta,
    trees: `${meta}/trees`,
    staging: `${meta}/work/${branch}/tree`,
    partial: `${meta}/work/${branch}/partial`,
    state: `${meta}/${branch}.json`,
    lock: `${meta}/${branch}.lock`,
  };
}

/** A package file that was verified, and how to tell it is still that file. */
export interface VerifiedFile {
  readonly checksum: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

/** One netboot file as last fetched. */
export interface NetbootRecord {
  readonly size: number;
  /** What it was checked against: a `.sha512`/`.sha256` file, or nothing published. */
  readonly check: "sha512" | "sha256" | "none";
  readonly hash?: string;
  readonly etag?: string;
  readonly lastModified?: string;
}

/** `<branch>.json`. Only a cache of facts: losing it costs a re-verify, never a wrong mirror. */
export interface MirrorState {
  readonly version: 1;
  readonly branch: string;
  readonly from: string;
  /** Unix ms of the last successful run, and of the last one that changed the tree. */
  readonly lastDownload: number;
  readonly lastChange: number;
  readonly arches: readonly string[];
  /** Relative to the tree: `main/x86_64/foo-1-r0.apk`. */
  readonly files: Readonly<Record<string, VerifiedFile>>;
  /** Validators of each index, by path relative to the tree. */
  readonly indexes: Readonly<
    Record<string, { etag?: string; lastModified?: string; keyName: string }>
  >;
  readonly netboot: Readonly<Record<string, NetbootRecord>>;
}

export async function readState(l: Layout): Promise<MirrorState | null> {
  try {
    const s = JSON.parse(await Deno.readTextFile(l.state)) as MirrorState;
    return s.version === 1 && s.branch === l.branch ? s : null;
  } catch {
    return null; // absent or unreadable: everything is verified again
  }
}

export async function writeState(l: Layout, s: MirrorState): Promise<void> {
  const tmp = `${l.state}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(s, null, 1) + "\n");
  await Deno.rename(tmp, l.state);
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the branch's lock: two downloads into one staging tree would mix
 * their files. A lock left by a process that is gone (killed run) is taken
 * over. Returns the release function.
 */
export async function lockBranch(l: Layout): Promise<() => Promise<void>> {
  await Deno.mkdir(l.meta, { recursive: true });
  for (let i = 0; i < 2; i++) {
    try {
      const f = await Deno.open(l.lock, { createNew: true, write: true });
      await f.write(new TextEncoder().encode(`${Deno.pid}\n`));
      f.close();
      return async () => {
        await Deno.remove(l.lock).catch(() => {});
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const pid = Number((await Deno.readTextFile(l.lock).catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== Deno.pid && alive(pid)) {
        throw new Error(
          `another mesh system download (pid ${pid}) is updating ${l.served}; ` +
            `wait for it, or remove ${l.lock} if that process is not mesh`,
        );
      }
      await Deno.remove(l.lock).catch(() => {});
    }
  }
  throw new Error(`cannot take the lock ${l.lock}`);
}

/** The real path of the served tree, or null when nothing is published yet. */
export async function servedTree(l: Layout): Promise<string | null> {
  try {
    const real = await Deno.realPath(l.served);
    return (await Deno.stat(real)).isDirectory ? real : null;
  } catch {
    return null;
  }
}

/** `main/x86_64/APKINDEX.tar.gz` → path under a tree root. */
export const inTree = (root: string, rel: string) => `${root}/${rel}`;
