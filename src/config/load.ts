/**
 * @module
 * Reads a /host0 tree from disk and validates it with the pure parsers. Every
 * problem in every file is collected; one ConfigError carries them all.
 */
import { ConfigError, type ConfigIssue } from "../errors.ts";
import { parseHost0Conf } from "./parse_host0_conf.ts";
import {
  parseCmdlineFile,
  parseGroupsFile,
  parsePackagesFile,
  parseUuidFile,
} from "./parse_lists.ts";
import { parseMeshYaml } from "./parse_mesh_yaml.ts";
import { checkNetworks, parseNetworkConf } from "./parse_network.ts";
import { parseManifest } from "./manifest.ts";
import { loadWorkloads } from "./load_workloads.ts";
import { joinPath } from "./paths.ts";
import type { Group, Host0, Machine, ManifestLine, Network, Settings } from "./types.ts";

/** File text, or null when it does not exist. Other errors become issues. */
async function readOptional(path: string, issues: ConfigIssue[]): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    issues.push({ file: path, message: `cannot read: ${(e as Error).message}` });
    return null;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Sub-directory names (sorted, dot-entries skipped); null when `dir` is absent. */
async function subdirs(dir: string): Promise<string[] | null> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".")) continue;
      if (e.isDirectory) out.push(e.name);
      else if (e.isSymlink) {
        try {
          if ((await Deno.stat(joinPath(dir, e.name))).isDirectory) out.push(e.name);
        } catch { /* dangling link: not a folder */ }
      }
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return out.sort();
}

/**
 * Checks that every O/A source is an existing regular file whose real
 * location (symlinks followed) is inside the real /host0 directory `realDir`:
 * "SRC under /host0" is a rule about the file read, not about the string, so
 * a symlink under /host0 to /etc/shadow is refused. Resolves each path once.
 */
function sourceChecker(
  realDir: string,
): (lines: readonly ManifestLine[], issues: ConfigIssue[]) => Promise<void> {
  const prefix = realDir.endsWith("/") ? realDir : `${realDir}/`;
  const cache = new Map<string, Promise<string | null>>();
  const check = (path: string) => {
    let p = cache.get(path);
    if (!p) {
      p = (async () => {
        let real: string;
        try {
          real = await Deno.realPath(path);
        } catch {
          return "does not exist";
        }
        if (!real.startsWith(prefix)) {
          return `resolves to ${real}, outside the /host0 directory (${realDir})`;
        }
        try {
          return (await Deno.stat(real)).isFile ? null : "is not a regular file";
        } catch {
          return "does not exist";
        }
      })();
      cache.set(path, p);
    }
    return p;
  };
  return async (lines, issues) => {
    for (const l of lines) {
      if ((l.action === "O" || l.action === "A") && l.src !== undefined) {
        const problem = await check(l.src);
        if (problem) {
          issues.push({ file: l.file, line: l.line, message: `SRC ${l.srcText} ${problem}` });
        }
      }
    }
  };
}

async function loadGroup(
  dir: string,
  name: string,
  host0: string,
  check: ReturnType<typeof sourceChecker>,
) {
  const issues: ConfigIssue[] = [];
  const gdir = joinPath(dir, name);
  const manifestFile = joinPath(gdir, "manifest");
  const [manifestText, packagesText] = await Promise.all([
    readOptional(manifestFile, issues),
    readOptional(joinPath(gdir, "packages"), issues),
  ]);
  let manifest: ManifestLine[] = [];
  if (manifestText === null) {
    if (!(await exists(manifestFile))) {
      issues.push({ file: manifestFile, message: "missing: every group needs a manifest" });
    }
  } else {
    const m = parseManifest(manifestText, manifestFile, host0);
    manifest = m.value;
    issues.push(...m.issues);
    await check(manifest, issues);
  }
  const packages = packagesText === null
    ? []
    : collect(parsePackagesFile(packagesText, joinPath(gdir, "packages")), issues).map((p) =>
      p.name
    );
  const group: Group = { name, dir: gdir, manifest, packages };
  return { group, issues };
}

function collect<T>(parsed: { value: T; issues: ConfigIssue[] }, issues: ConfigIssue[]): T {
  issues.push(...parsed.issues);
  return parsed.value;
}

async function loadMachine(
  dir: string,
  folder: string,
  host0: string,
  known: ReadonlySet<string>,
  check: ReturnType<typeof sourceChecker>,
) {
  const issues: ConfigIssue[] = [];
  const mdir = joinPath(dir, folder);
  const f = (name: string) => joinPath(mdir, name);
  if (await exists(f("SKIP"))) {
    // A skipped folder is not validated: SKIP is how a half-written machine is parked.
    const uuid = (await readOptional(f("UUID"), [])) ?? "";
    const machine: Machine = {
      folder,
      dir: mdir,
      id: uuid.trim(),
      manifest: [],
      groups: [],
      packages: [],
      skip: true,
    };
    return { machine, issues };
  }
  const [uuidText, manifestText, groupsText, packagesText, cmdlineText] = await Promise.all([
    readOptional(f("UUID"), issues),
    readOptional(f("manifest"), issues),
    readOptional(f("groups"), issues),
    readOptional(f("packages"), issues),
    readOptional(f("cmdline"), issues),
  ]);
  let id = "";
  if (uuidText === null) {
    issues.push({
      file: f("UUID"),
      message: 'missing: every machine needs a UUID file (8-hex id or "default")',
    });
  } else {
    id = collect(parseUuidFile(uuidText, f("UUID")), issues) ?? "";
  }
  let manifest: ManifestLine[] = [];
  if (manifestText === null) {
    issues.push({ file: f("manifest"), message: "missing: every machine needs a manifest" });
  } else {
    manifest = collect(parseManifest(manifestText, f("manifest"), host0), issues);
    await check(manifest, issues);
  }
  const groups = groupsText === null
    ? []
    : collect(parseGroupsFile(groupsText, f("groups"), known), issues);
  const packages = packagesText === null
    ? []
    : collect(parsePackagesFile(packagesText, f("packages")), issues).map((p) => p.name);
  const cmdline = cmdlineText === null
    ? undefined
    : collect(parseCmdlineFile(cmdlineText, f("cmdline")), issues);
  const machine: Machine = {
    folder,
    dir: mdir,
    id,
    manifest,
    groups,
    packages,
    ...(cmdline !== undefined ? { cmdline } : {}),
    skip: false,
  };
  return { machine, issues };
}

/** mesh.yaml over host0.conf's legacy keys, problems appended to `issues`. */
async function readSettings(dir: string, issues: ConfigIssue[]): Promise<Settings> {
  const p = (rel: string) => joinPath(dir, rel);
  const confText = await readOptional(p("host0.conf"), issues);
  const legacy = confText === null
    ? {}
    : collect(parseHost0Conf(confText, p("host0.conf")), issues);
  const yamlText = await readOptional(p("mesh.yaml"), issues);
  return collect(parseMeshYaml(yamlText, p("mesh.yaml"), dir, legacy), issues);
}

/**
 * The settings of the central node alone (mesh.yaml, host0.conf), for
 * commands that need nothing of the machines (`mesh net scan`). Throws one
 * ConfigError listing every problem in those two files.
 */
export async function loadSettings(dir: string): Promise<Settings> {
  const issues: ConfigIssue[] = [];
  const settings = await readSettings(dir, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return settings;
}

/**
 * Loads and validates the /host0 tree at `dir`. Issue file names are `dir`
 * joined with the relative path, as the user would type them. Throws one
 * ConfigError listing every problem.
 */
export async function loadHost0(dir: string): Promise<Host0> {
  const issues: ConfigIssue[] = [];
  let realDir: string;
  try {
    if (!(await Deno.stat(dir)).isDirectory) {
      throw new ConfigError({ file: dir, message: "not a directory" });
    }
    realDir = await Deno.realPath(dir);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError({
      file: dir,
      message: `cannot open /host0 directory: ${(e as Error).message}`,
    });
  }
  const p = (rel: string) => joinPath(dir, rel);
  const check = sourceChecker(realDir);

  const settings = await readSettings(dir, issues);

  const groupNames = (await subdirs(p("groups"))) ?? [];
  const groupResults = await Promise.all(
    groupNames.map((g) => loadGroup(p("groups"), g, dir, check)),
  );
  const groups = new Map<string, Group>();
  for (const r of groupResults) {
    issues.push(...r.issues);
    groups.set(r.group.name, r.group);
  }

  const folders = await subdirs(p("machines"));
  if (folders === null) issues.push({ file: p("machines"), message: "missing directory" });
  const known = new Set(groupNames);
  const machineResults = await Promise.all(
    (folders ?? []).map((m) => loadMachine(p("machines"), m, dir, known, check)),
  );
  const machines: Machine[] = [];
  const byId = new Map<string, Machine>();
  for (const r of machineResults) {
    issues.push(...r.issues);
    machines.push(r.machine);
    const m = r.machine;
    if (m.skip || m.id === "") continue;
    const first = byId.get(m.id);
    if (first) {
      const message = m.id === "default"
        ? `a second default machine (first: ${joinPath(first.dir, "UUID")}); exactly one is allowed`
        : `duplicate id ${m.id}, also used by ${joinPath(first.dir, "UUID")}`;
      issues.push({ file: joinPath(m.dir, "UUID"), line: 1, message });
    } else {
      byId.set(m.id, m);
    }
  }
  if (
    folders !== null && !byId.has("default") &&
    !machineResults.some((r) => r.machine.id === "" && !r.machine.skip)
  ) {
    issues.push({
      file: p("machines"),
      message: 'no default machine: one machine needs UUID "default"',
    });
  }

  const parsedNetworks: Network[] = [];
  const networkFiles: string[] = [];
  try {
    for await (const e of Deno.readDir(p("network"))) {
      if (e.isFile && e.name.endsWith(".conf")) networkFiles.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  networkFiles.sort();
  for (const name of networkFiles) {
    const file = p(`network/${name}`);
    const text = await readOptional(file, issues);
    if (text === null) continue;
    const n = collect(parseNetworkConf(text, file), issues);
    if (n !== null) parsedNetworks.push(n);
  }
  const networks = collect(
    checkNetworks(parsedNetworks, {
      folders: new Set(folders ?? []),
      groups: new Set(groupNames),
    }),
    issues,
  );
  const workloads = await loadWorkloads(dir, networks, issues);

  const pkgText = await readOptional(p("packages"), issues);
  const packages = pkgText === null
    ? []
    : collect(parsePackagesFile(pkgText, p("packages")), issues).map((x) => x.name);

  if (issues.length > 0) throw new ConfigError(issues);
  return { root: dir, settings, machines, groups, networks, workloads, packages };
}
