/**
 * @module
 * `downloadMirror`: fills `<mirror.dir>/<branch>` from an upstream. Order of
 * work, so that nothing is fetched before it is known to be wanted and
 * nothing is served before all of it is verified: (1) fetch every index and
 * verify its signature, (2) resolve the closure per arch (an unsatisfiable
 * name fails the run here, as a ConfigError naming the file), (3) place each
 * package (kept, hard-linked from the served tree, or downloaded in
 * parallel and verified), (4) the netboot files, (5) carry over arches this
 * run did not ask for, (6) publish by symlink swap (publish.ts), or nothing
 * at all when the tree came out identical. A failure anywhere leaves the
 * served tree as it was and the staging tree and partial files for the next
 * run to resume from.
 */
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { DEFAULT_POLICY, type FetchPolicy, upstream } from "./fetcher.ts";
import { type IndexRead, readIndex, REPOSITORIES } from "./indexes.ts";
import {
  layout,
  lockBranch,
  type MirrorState,
  readState,
  servedTree,
  writeState,
} from "./layout.ts";
import { fetchNetboot, latestRelease, type NetbootResult } from "./netboot.ts";
import { download, packageRel, placeLocally, type Placement, pool, recordOf } from "./packages.ts";
import { carryOver, linkInto, listTree, prune, publishTree, sameTree } from "./publish.ts";
import { type RepoPackage, resolveClosure, type Wanted } from "./resolve.ts";
import { loadTrustedKeys } from "./verify_file.ts";

export { REPOSITORIES };

export interface DownloadOptions {
  /** Upstream: an http(s) URL or a local directory holding `<branch>/...`. */
  readonly from: string;
  readonly branch: string;
  readonly arches: readonly string[];
  readonly mirrorDir: string;
  /** `/host0/keys/apk`: the public keys indexes may be signed with. */
  readonly keysDir: string;
  readonly wanted: readonly Wanted[];
  /** Downloads at once (default 8). */
  readonly parallel?: number;
  readonly policy?: FetchPolicy;
  readonly onProgress?: (p: Progress) => void;
  readonly clock?: () => number;
}

export interface Progress {
  readonly phase: "indexes" | "checking" | "packages" | "netboot";
  readonly done: number;
  readonly total: number;
  readonly bytes: number;
  readonly totalBytes: number;
}

export interface RepoReport {
  readonly repo: string;
  readonly keyName: string;
  readonly index: "downloaded" | "unchanged";
  readonly packages: number;
  readonly bytes: number;
  readonly downloaded: number;
}

export interface ArchReport {
  readonly arch: string;
  readonly repos: readonly RepoReport[];
  readonly netboot: readonly NetbootResult[];
  /** The release latest-releases.yaml names, when the upstream has one. */
  readonly release?: { version: string; file: string; sha256?: string };
}

export interface DownloadReport {
  readonly branch: string;
  readonly from: string;
  /** `<mirror.dir>/<branch>`, the path HTTP serves, and the tree it points at. */
  readonly served: string;
  readonly tree: string;
  /** False when the new tree equalled the served one: nothing was switched. */
  readonly published: boolean;
  readonly arches: readonly ArchReport[];
  readonly packages: number;
  readonly bytes: number;
  readonly downloaded: { readonly files: number; readonly bytes: number };
  /** Files the new tree dropped (no longer needed). */
  readonly removed: readonly string[];
  /** Downloads refused (bad checksum, size) and fetched again. */
  readonly refused: readonly string[];
  /** Index problems that did not stop the run. */
  readonly warnings: readonly string[];
  readonly carriedArches: readonly string[];
  readonly ms: number;
  /** Where the time went: fetch+verify+parse, resolve, packages, netboot, publish. */
  readonly timings: {
    readonly indexesMs: number;
    readonly resolveMs: number;
    readonly packagesMs: number;
    readonly netbootMs: number;
    readonly publishMs: number;
  };
}

/** An unsatisfiable name becomes an issue of the file that asked for it. */
function resolutionError(errors: readonly string[], wanted: readonly Wanted[]): ConfigError {
  const froms = [...new Set(wanted.map((w) => w.from))].sort((a, b) => b.length - a.length);
  const issues: ConfigIssue[] = [...new Set(errors)].map((e) => {
    const from = froms.find((f) => e.startsWith(`${f}: `));
    return from
      ? { file: from, message: e.slice(from.length + 2) }
      : { file: "APKINDEX", message: e };
  });
  return new ConfigError(issues);
}

export async function downloadMirror(o: DownloadOptions): Promise<DownloadReport> {
  const clock = o.clock ?? Date.now;
  const started = clock();
  const policy = o.policy ?? DEFAULT_POLICY;
  const l = layout(o.mirrorDir, o.branch);
  const release = await lockBranch(l);
  try {
    const keys = await loadTrustedKeys(o.keysDir);
    const state = await readState(l);
    const served = await servedTree(l);
    const up = upstream(o.from);
    const progress = (p: Progress) => o.onProgress?.(p);
    const warnings: string[] = [];

    // (1) Indexes: all of them verified before anything else is fetched.
    const ictx = { up, branch: o.branch, policy, keys, keysDir: o.keysDir, served, state };
    const indexes: IndexRead[] = [];
    const total = o.arches.length * REPOSITORIES.length;
    for (const arch of o.arches) {
      for (const repo of REPOSITORIES) {
        progress({ phase: "indexes", done: indexes.length, total, bytes: 0, totalBytes: 0 });
        indexes.push(await readIndex(ictx, arch, repo, warnings));
      }
    }
    const t1 = clock();

    // (2) The closure, per arch; every unsatisfiable name at once.
    const closures = new Map<string, readonly RepoPackage[]>();
    const errors: string[] = [];
    for (const arch of o.arches) {
      const index = indexes.filter((i) => i.arch === arch).flatMap((i) => i.packages);
      const r = resolveClosure(index, o.wanted);
      errors.push(...r.errors.map((e) => (o.arches.length > 1 ? `${e} (${arch})` : e)));
      closures.set(arch, r.packages);
    }
    if (errors.length > 0) throw resolutionError(errors, o.wanted);
    const t2 = clock();

    // (3) Packages: first what we have, then the downloads, 8 at a time.
    await Deno.mkdir(l.staging, { recursive: true });
    await Deno.mkdir(l.partial, { recursive: true });
    const ctx = {
      up,
      branch: o.branch,
      policy,
      staging: l.staging,
      partial: l.partial,
      served,
      records: state?.files ?? {},
    };
    const all = [...closures.values()].flat();
    const placed = new Map<RepoPackage, Placement>();
    let checked = 0;
    await pool(all, o.parallel ?? 8, async (p) => {
      placed.set(p, await placeLocally(ctx, p));
      progress({ phase: "checking", done: ++checked, total: all.length, bytes: 0, totalBytes: 0 });
    });
    const todo = all.filter((p) => placed.get(p) === "download");
    const totalBytes = todo.reduce((n, p) => n + p.size, 0);
    let done = 0, bytes = 0;
    const refused: string[] = [];
    const onBytes = (n: number) => {
      bytes += n;
      progress({ phase: "packages", done, total: todo.length, bytes, totalBytes });
    };
    await pool(todo, o.parallel ?? 8, async (p) => {
      refused.push(...await download(ctx, p, onBytes));
      done++;
      progress({ phase: "packages", done, total: todo.length, bytes, totalBytes });
    });
    for (const i of indexes) {
      const staged = `${l.staging}/${i.rel}`;
      if (i.unchanged) await linkInto(`${served}/${i.rel}`, staged);
      else {
        await Deno.mkdir(staged.slice(0, staged.lastIndexOf("/")), { recursive: true });
        await Deno.writeFile(`${staged}.tmp`, i.bytes);
        await Deno.rename(`${staged}.tmp`, staged);
      }
    }

    const t3 = clock();

    // (4) Netboot files.
    const archReports: ArchReport[] = [];
    const netbootRecords: Record<string, NetbootResult> = {};
    let netbootBytes = 0;
    for (const arch of o.arches) {
      progress({ phase: "netboot", done: 0, total: 3, bytes: 0, totalBytes: 0 });
      const nb = await fetchNetboot({
        ...ctx,
        arch,
        previous: state?.netboot ?? {},
        onBytes: (n) => {
          netbootBytes += n;
          progress({ phase: "netboot", done: 0, total: 3, bytes: netbootBytes, totalBytes: 0 });
        },
      });
      for (const r of nb) netbootRecords[r.rel] = r;
      const rel = await latestRelease(up, o.branch, arch, policy);
      archReports.push({
        arch,
        netboot: nb,
        ...(rel ? { release: rel } : {}),
        repos: indexes.filter((i) => i.arch === arch).map((i) => {
          const mine = closures.get(arch)!.filter((p) => p.repo === i.repo);
          return {
            repo: i.repo,
            keyName: i.keyName,
            index: i.unchanged ? "unchanged" : "downloaded",
            packages: mine.length,
            bytes: mine.reduce((n, p) => n + p.size, 0),
            downloaded: mine.filter((p) => placed.get(p) === "download").length,
          } as const;
        }),
      });
    }

    const t4 = clock();

    // (5) Arches not asked for this time stay as they are; then drop what is not needed.
    const keep = new Set<string>([
      ...all.map(packageRel),
      ...indexes.map((i) => i.rel),
      ...Object.keys(netbootRecords),
    ]);
    const carriedArches = served
      ? await carryOver(served, l.staging, [...REPOSITORIES, "releases"], o.arches, keep)
      : [];
    await prune(l.staging, (rel) => keep.has(rel));

    // (6) Publish, or not when nothing changed.
    const now = clock();
    const before = served ? new Set((await listTree(served)).keys()) : new Set<string>();
    const unchangedTree = await sameTree(l.staging, served);
    const tree = unchangedTree ? served! : await publishTree(l, now);
    if (unchangedTree) await Deno.remove(l.staging, { recursive: true });
    const after = await listTree(tree);
    const gone = [...before].filter((rel) => !after.has(rel)).sort();

    const files: Record<string, MirrorState["files"][string]> = {};
    for (const p of all) files[packageRel(p)] = await recordOf(`${tree}/${packageRel(p)}`, p);
    for (const [rel, rec] of Object.entries(state?.files ?? {})) {
      if (after.has(rel) && !(rel in files)) files[rel] = rec; // carried-over arches
    }
    const netboot: Record<string, MirrorState["netboot"][string]> = {};
    for (const [rel, rec] of Object.entries(state?.netboot ?? {})) {
      if (after.has(rel)) netboot[rel] = rec;
    }
    for (const { rel: r, downloaded: _d, ...rec } of Object.values(netbootRecords)) {
      netboot[r] = rec;
    }
    const idx: Record<string, MirrorState["indexes"][string]> = {};
    for (const [rel, rec] of Object.entries(state?.indexes ?? {})) {
      if (after.has(rel)) idx[rel] = rec;
    }
    for (const i of indexes) idx[i.rel] = { ...i.validators, keyName: i.keyName };
    await writeState(l, {
      version: 1,
      branch: o.branch,
      from: o.from,
      lastDownload: now,
      lastChange: unchangedTree ? state?.lastChange ?? now : now,
      arches: [...new Set([...o.arches, ...carriedArches])].sort(),
      files,
      indexes: idx,
      netboot,
    });
    await Deno.remove(l.partial, { recursive: true }).catch(() => {});

    return {
      branch: o.branch,
      from: o.from,
      served: l.served,
      tree,
      published: !unchangedTree,
      arches: archReports,
      packages: all.length,
      bytes: all.reduce((n, p) => n + p.size, 0),
      downloaded: { files: todo.length, bytes: totalBytes },
      removed: gone,
      refused,
      warnings,
      carriedArches,
      ms: clock() - started,
      timings: {
        indexesMs: t1 - started,
        resolveMs: t2 - t1,
        packagesMs: t3 - t2,
        netbootMs: t4 - t3,
        publishMs: clock() - t4,
      },
    };
  } finally {
    await release();
  }
}
