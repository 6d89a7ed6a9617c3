/**
 * @module
 * The mirror's closure solver: every package that any node may install, from
 * the names the nodes want. It answers a different question than apk's solver
 * (a union over nodes, not one consistent install), but it must pick the same
 * provider apk will pick, or a node asks the mirror for a file it lacks. Pure
 * and deterministic: the same index and wants, in any order, give the same result.
 */
import { type ApkPackage, type Dependency, formatDependency, parseDependency } from "./apkindex.ts";
import { compareVersions, satisfies } from "./version.ts";

/** A name some node wants installed, and where that wish was written. */
export interface Wanted {
  readonly name: string;
  /** e.g. "/host0/machines/web/packages:3" or "alpine-base (initramfs)". */
  readonly from: string;
}

export interface RepoPackage extends ApkPackage {
  /** "main" | "community" (or another repository of the branch). */
  readonly repo: string;
}

export interface Resolution {
  /** Sorted by repository (main, community, others by name), then name, then version. */
  readonly packages: readonly RepoPackage[];
  readonly errors: readonly string[];
}

/** apk prefers the lowest repository in its repositories file; ours lists these first. */
const REPO_ORDER = ["main", "community", "testing"] as const;

/** A package as a candidate for one name: itself, or one of its `p:` provides. */
interface Provider {
  readonly pkg: RepoPackage;
  /** The version it gives that name; none for a non-versioned provide (`cmd:ls`). */
  readonly version?: string;
  readonly real: boolean;
}

/** Why a package is in the closure: the chain from a root, and that root's `from`. */
interface Reason {
  readonly chain: readonly string[];
  readonly from: string;
}

type Choice = { readonly pkg: RepoPackage } | { readonly error: string };

function repoRank(repo: string): number {
  const i = (REPO_ORDER as readonly string[]).indexOf(repo);
  return i === -1 ? REPO_ORDER.length : i;
}

const byRepo = (a: RepoPackage, b: RepoPackage) =>
  repoRank(a.repo) - repoRank(b.repo) || cmp(a.repo, b.repo);
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Newer provided version first; a versioned provider before a non-versioned one. */
const byProvidedVersion = (a: Provider, b: Provider) =>
  a.version === undefined || b.version === undefined
    ? (a.version === undefined ? 1 : 0) - (b.version === undefined ? 1 : 0)
    : compareVersions(b.version, a.version);
const byPriority = (a: Provider, b: Provider) =>
  (b.pkg.providerPriority ?? 0) - (a.pkg.providerPriority ?? 0);

/** Among providers of one package name: apk's "latest by requested name, then by principal name". */
const withinName = (a: Provider, b: Provider) =>
  byProvidedVersion(a, b) || compareVersions(b.pkg.version, a.pkg.version) || byPriority(a, b) ||
  byRepo(a.pkg, b.pkg) || cmp(a.pkg.checksum, b.pkg.checksum);

/**
 * Between packages of different names, as apk's compare_providers: the newest
 * provided version, then (our tie-break) the package that really has the name,
 * then `k:` priority, then repository order; the name last, so it is a total order.
 */
const acrossNames = (a: Provider, b: Provider) =>
  byProvidedVersion(a, b) || Number(b.real) - Number(a.real) || byPriority(a, b) ||
  byRepo(a.pkg, b.pkg) || cmp(a.pkg.name, b.pkg.name);

function matches(p: Provider, dep: Dependency): boolean {
  if (dep.op === undefined || dep.version === undefined) return true;
  // A non-versioned provide does not own the name: it cannot meet a version constraint.
  return p.version !== undefined && satisfies(p.version, dep.op, dep.version);
}

/** The best of the providers, by the rules above. */
function best(providers: readonly Provider[]): Provider | undefined {
  const perName = new Map<string, Provider>();
  for (const p of providers) {
    const seen = perName.get(p.pkg.name);
    if (!seen || withinName(p, seen) < 0) perName.set(p.pkg.name, p);
  }
  return [...perName.values()].sort(acrossNames)[0];
}

/** Same package from the same repository listed twice: keep one. */
function canonical(index: readonly RepoPackage[]): RepoPackage[] {
  const key = (p: RepoPackage) => `${p.repo}\0${p.name}\0${p.version}\0${p.checksum}`;
  const unique = new Map<string, RepoPackage>();
  for (const p of index) if (!unique.has(key(p))) unique.set(key(p), p);
  return [...unique.values()].sort((a, b) =>
    byRepo(a, b) || cmp(a.name, b.name) || compareVersions(a.version, b.version) ||
    cmp(a.version, b.version) || cmp(a.checksum, b.checksum)
  );
}

function providerMap(pkgs: readonly RepoPackage[]): Map<string, Provider[]> {
  const map = new Map<string, Provider[]>();
  const add = (name: string, p: Provider) => {
    const list = map.get(name);
    if (list) list.push(p);
    else map.set(name, [p]);
  };
  for (const pkg of pkgs) {
    add(pkg.name, { pkg, version: pkg.version, real: true });
    for (const pr of pkg.provides) add(pr.name, { pkg, version: pr.version, real: false });
  }
  return map;
}

function describeMiss(dep: Dependency, all: readonly Provider[]): string {
  if (all.length === 0) return "nothing provides it";
  const have = [...new Set(all.map((p) => `${p.pkg.name}-${p.version ?? "(no version)"}`))];
  const shown = have.slice(0, 4).join(", ") + (have.length > 4 ? ", …" : "");
  return `no provider satisfies ${dep.op}${dep.version} (have ${shown})`;
}

/**
 * Resolves the closure of `wanted` over `index`: each wanted name and every
 * dependency goes to its best provider (never to a `!conflict`); then every
 * `install_if` package whose conditions all hold within the closure joins it,
 * with its own dependencies, until nothing changes. Each dependency is resolved
 * on its own, as each node's apk would, so the result covers every node. A
 * dependency nothing satisfies is an error naming the chain and the root's
 * `from`; the rest resolves on.
 */
export function resolveClosure(
  index: readonly RepoPackage[],
  wanted: readonly Wanted[],
): Resolution {
  const pkgs = canonical(index);
  const providers = providerMap(pkgs);
  const choices = new Map<string, Choice>();
  const choose = (dep: Dependency): Choice => {
    const key = formatDependency(dep);
    let c = choices.get(key);
    if (!c) {
      const all = providers.get(dep.name) ?? [];
      const pick = best(all.filter((p) => matches(p, dep)));
      c = pick ? { pkg: pick.pkg } : { error: describeMiss(dep, all) };
      choices.set(key, c);
    }
    return c;
  };

  const closure = new Map<RepoPackage, Reason>();
  const names = new Set<string>();
  const queue: RepoPackage[] = [];
  const errors: string[] = [];
  const add = (pkg: RepoPackage, why: Reason) => {
    if (closure.has(pkg)) return;
    closure.set(pkg, why);
    names.add(pkg.name);
    queue.push(pkg);
  };
  let head = 0;
  const drain = () => {
    for (; head < queue.length; head++) {
      const pkg = queue[head]!;
      const why = closure.get(pkg)!;
      for (const dep of pkg.depends) {
        if (dep.conflict) continue;
        const c = choose(dep);
        const chain = [...why.chain, formatDependency(dep)];
        if ("pkg" in c) add(c.pkg, { chain: [...why.chain, c.pkg.name], from: why.from });
        else errors.push(`${why.from}: ${chain.join(" -> ")}: ${c.error}`);
      }
    }
  };

  const roots = [...wanted].sort((a, b) => cmp(a.name, b.name) || cmp(a.from, b.from));
  for (const w of roots) {
    const dep = parseDependency(w.name);
    if (!dep) {
      errors.push(`${w.from}: ${JSON.stringify(w.name)} is not a package name`);
      continue;
    }
    if (dep.conflict) continue;
    const c = choose(dep);
    if ("error" in c) {
      errors.push(`${w.from}: ${w.name}: ${c.error}`);
      continue;
    }
    const root = c.pkg.name === w.name ? w.name : `${w.name} (${c.pkg.name})`;
    add(c.pkg, { chain: [root], from: w.from });
  }
  drain();

  // install_if: candidates grouped by name, best first, so one round picks at most one per name.
  const triggers = new Map<string, RepoPackage[]>();
  for (const p of pkgs.filter((p) => p.installIf.length > 0)) {
    triggers.set(p.name, [...(triggers.get(p.name) ?? []), p]);
  }
  const asSelf = (pkg: RepoPackage): Provider => ({ pkg, version: pkg.version, real: true });
  for (const list of triggers.values()) list.sort((a, b) => withinName(asSelf(a), asSelf(b)));
  const inClosure = (dep: Dependency) =>
    (providers.get(dep.name) ?? []).find((p) => closure.has(p.pkg) && matches(p, dep));
  for (let changed = true; changed;) {
    changed = false;
    for (const [name, list] of triggers) {
      if (names.has(name)) continue;
      for (const pkg of list) {
        // A `!name` condition may hold on some node, since the closure is a union: keep it.
        const held = pkg.installIf.map((d) => (d.conflict ? null : inClosure(d)));
        if (held.some((h) => h === undefined)) continue;
        const first = held.find((h) => h);
        const cause = pkg.installIf.map(formatDependency).join(" ");
        const from = first ? closure.get(first.pkg)!.from : "install_if";
        add(pkg, { chain: [`${pkg.name} (install_if ${cause})`], from });
        changed = true;
        break;
      }
    }
    drain();
  }

  const packages = [...closure.keys()].sort((a, b) =>
    byRepo(a, b) || cmp(a.name, b.name) || compareVersions(a.version, b.version) ||
    cmp(a.checksum, b.checksum)
  );
  // Grouped by where the wish was written; "packages:10" after "packages:9".
  return { packages, errors: [...new Set(errors)].sort(naturalOrder) };
}

/** Text order, except that runs of digits compare as numbers. */
function naturalOrder(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    // Odd pieces are the digit runs.
    return i % 2 === 1 ? Number(x) - Number(y) || cmp(x, y) : cmp(x, y);
  }
  return pa.length - pb.length;
}
