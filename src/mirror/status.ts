/**
 * @module
 * `mirrorStatus`: what the served tree holds, measured against what /host0
 * asks for now. Offline: it reads the tree's own indexes (verified when the
 * tree was built) and resolves the current package lists over them.
 * `missing` are files the lists need that the tree lacks (the lists changed,
 * or the tree was damaged: run `mesh system download`); `stale` are `.apk`
 * files no list needs any more (the next download removes them).
 */
import { parseApkIndex } from "./apkindex.ts";
import { ApkVerifyError, openApkIndex } from "./apk_signature.ts";
import { REPOSITORIES } from "./indexes.ts";
import { layout, readState, servedTree } from "./layout.ts";
import { NETBOOT_FILES } from "./netboot.ts";
import { packageRel } from "./packages.ts";
import { listTree } from "./publish.ts";
import { type RepoPackage, resolveClosure, type Wanted } from "./resolve.ts";

export interface ArchStatus {
  readonly arch: string;
  readonly packages: number;
  readonly bytes: number;
  readonly missing: readonly string[];
  readonly stale: readonly string[];
}

export interface MachineStatus {
  readonly folder: string;
  readonly id: string;
  readonly satisfied: boolean;
  readonly problems: readonly string[];
}

export interface MirrorStatus {
  readonly branch: string;
  readonly dir: string;
  /** The real directory served, or null when nothing was published yet. */
  readonly tree: string | null;
  readonly from?: string;
  readonly arches: readonly ArchStatus[];
  readonly packages: number;
  readonly bytes: number;
  readonly missing: number;
  readonly stale: number;
  readonly lastDownload: number | null;
  readonly lastChange: number | null;
  /** Every machine's package list resolves, and all its files are in the tree, on every arch. */
  readonly satisfied: boolean;
  readonly machines: readonly MachineStatus[];
  readonly problems: readonly string[];
}

export interface StatusOptions {
  readonly mirrorDir: string;
  readonly branch: string;
  readonly wanted: readonly Wanted[];
  readonly machines: readonly { folder: string; id: string; wanted: readonly Wanted[] }[];
}

interface ArchIndex {
  readonly arch: string;
  readonly packages: RepoPackage[];
  readonly present: Map<string, number>;
}

async function readArch(tree: string, arch: string, problems: string[]): Promise<ArchIndex> {
  const packages: RepoPackage[] = [];
  const present = new Map<string, number>();
  for (const repo of REPOSITORIES) {
    const rel = `${repo}/${arch}/APKINDEX.tar.gz`;
    for (const [f] of await listTree(`${tree}/${repo}/${arch}`)) {
      if (!f.endsWith(".apk")) continue;
      const size = (await Deno.stat(`${tree}/${repo}/${arch}/${f}`)).size;
      present.set(`${repo}/${arch}/${f}`, size);
    }
    try {
      const opened = openApkIndex(await Deno.readFile(`${tree}/${rel}`), rel);
      const parsed = parseApkIndex(opened.apkindex, rel);
      packages.push(...parsed.packages.map((p) => ({ ...p, repo })));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) problems.push(`${rel}: missing`);
      else if (e instanceof ApkVerifyError) problems.push(e.message);
      else throw e;
    }
  }
  for (const name of NETBOOT_FILES) {
    const rel = `releases/${arch}/netboot/${name}`;
    const info = await Deno.stat(`${tree}/${rel}`).catch(() => null);
    if (info) present.set(rel, info.size);
  }
  return { arch, packages, present };
}

/** Files a resolution needs that `a` lacks (netboot files included). */
function lacking(a: ArchIndex, closure: readonly RepoPackage[]): string[] {
  const need = [
    ...closure.map(packageRel),
    ...NETBOOT_FILES.map((n) => `releases/${a.arch}/netboot/${n}`),
  ];
  return need.filter((rel) => !a.present.has(rel)).sort();
}

export async function mirrorStatus(o: StatusOptions): Promise<MirrorStatus> {
  const l = layout(o.mirrorDir, o.branch);
  const tree = await servedTree(l);
  const state = await readState(l);
  const problems: string[] = [];
  const archIndexes: ArchIndex[] = [];
  if (tree) {
    const arches = (await Array.fromAsync(Deno.readDir(`${tree}/main`)).catch(() => []))
      .filter((e) => e.isDirectory).map((e) => e.name).sort();
    for (const arch of arches) archIndexes.push(await readArch(tree, arch, problems));
  } else {
    problems.push(`${l.served}: no mirror published yet (run mesh system download)`);
  }

  const arches: ArchStatus[] = archIndexes.map((a) => {
    const r = resolveClosure(a.packages, o.wanted);
    for (const e of r.errors) problems.push(archIndexes.length > 1 ? `${e} (${a.arch})` : e);
    const need = new Set(r.packages.map(packageRel));
    const apks = [...a.present.keys()].filter((rel) => rel.endsWith(".apk"));
    return {
      arch: a.arch,
      packages: apks.length,
      bytes: [...a.present.values()].reduce((n, s) => n + s, 0),
      missing: lacking(a, r.packages),
      stale: apks.filter((rel) => !need.has(rel)).sort(),
    };
  });

  const machines: MachineStatus[] = o.machines.map((m) => {
    const why: string[] = [];
    for (const a of archIndexes) {
      const r = resolveClosure(a.packages, m.wanted);
      why.push(...r.errors);
      const miss = lacking(a, r.packages);
      if (miss.length > 0) {
        const shown = miss.slice(0, 3).join(", ") + (miss.length > 3 ? ", …" : "");
        why.push(`${a.arch}: ${miss.length} files missing from the mirror (${shown})`);
      }
    }
    if (archIndexes.length === 0) why.push("no mirror published");
    return { folder: m.folder, id: m.id, satisfied: why.length === 0, problems: why };
  });

  return {
    branch: o.branch,
    dir: l.served,
    tree,
    ...(state ? { from: state.from } : {}),
    arches,
    packages: arches.reduce((n, a) => n + a.packages, 0),
    bytes: arches.reduce((n, a) => n + a.bytes, 0),
    missing: arches.reduce((n, a) => n + a.missing.length, 0),
    stale: arches.reduce((n, a) => n + a.stale.length, 0),
    lastDownload: state?.lastDownload ?? null,
    lastChange: state?.lastChange ?? null,
    satisfied: archIndexes.length > 0 && machines.every((m) => m.satisfied),
    machines,
    problems,
  };
}
