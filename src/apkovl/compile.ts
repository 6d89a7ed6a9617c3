/**
 * @module
 * Compiles every machine of a /host0 into `<outDir>/<id>.tar.gz` (the default
 * machine as `default.tar.gz`) plus `<outDir>/index.json`. All overlays are
 * built in memory first; any problem throws one ConfigError and nothing on
 * disk changes. Publishing writes the new set into a temp dir beside outDir,
 * then renames each file into outDir (rename replaces atomically, so a reader
 * always gets a complete old or new overlay, never a gap or a torn file), then
 * index.json, then deletes overlays of machines that are gone.
 */
import { createHash } from "node:crypto";
import { ConfigError, type ConfigIssue } from "../errors.ts";
import type { Host0, Machine } from "../config/mod.ts";
import { openWithin, readOpened } from "../files/mod.ts";
import { meshOverlay } from "../meshnet/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { buildOverlay, type NodeAccess } from "./overlay.ts";
import { writeTarGz } from "./tar.ts";

/** One compiled overlay. */
export interface CompileRow {
  readonly folder: string;
  readonly id: string;
  /** Entries in the archive (files, directories and symlinks). */
  readonly files: number;
  /** Size of the .tar.gz in bytes. */
  readonly bytes: number;
  readonly sha256: string;
  /** Where it was published. */
  readonly path: string;
}

export interface CompileResult {
  readonly outDir: string;
  /** Sorted by folder. */
  readonly rows: readonly CompileRow[];
}

export interface CompileOptions {
  /** Usually `<state>/apkovl`. */
  readonly outDir: string;
  readonly onProgress?: (done: number, total: number, machine: Machine) => void;
}

/** One row of index.json, keyed by id. */
export interface IndexEntry {
  readonly folder: string;
  readonly file: string;
  readonly sha256: string;
  readonly size: number;
  readonly cmdline?: string;
}

/** Name of the index file inside outDir. */
export const INDEX_FILE = "index.json";

function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i === -1 ? "." : i === 0 ? "/" : trimmed.slice(0, i);
}

function randomSuffix(): string {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads every O/A source once; unreadable ones become issues at their lines.
 * Each is read from a descriptor verified to be a regular file whose real
 * location is inside the real /host0 directory (files/open_confined.ts): a
 * SRC that is, or was swapped for, a symlink leaving /host0 is refused, never
 * copied into an overlay.
 */
async function readSources(host0: Host0, machines: readonly Machine[], issues: ConfigIssue[]) {
  const lines = [
    ...machines.flatMap((m) => m.manifest),
    ...[...new Set(machines.flatMap((m) => m.groups))].flatMap((g) =>
      host0.groups.get(g)?.manifest ?? []
    ),
  ];
  const wanted = new Map<string, (typeof lines)[number]>();
  for (const l of lines) {
    if ((l.action === "O" || l.action === "A") && l.src !== undefined && !wanted.has(l.src)) {
      wanted.set(l.src, l);
    }
  }
  const sources = new Map<string, Uint8Array>();
  if (wanted.size === 0) return sources;
  let realDir: string;
  try {
    realDir = await Deno.realPath(host0.root);
  } catch (e) {
    issues.push({
      file: host0.root,
      message: `cannot open /host0 directory: ${(e as Error).message}`,
    });
    return sources;
  }
  await Promise.all([...wanted].map(async ([path, l]) => {
    const bad = (problem: string) =>
      issues.push({ file: l.file, line: l.line, message: `SRC ${l.srcText}: ${problem}` });
    const opened = await openWithin(realDir, path);
    if (!opened.ok) {
      bad(
        opened.reason === "outside"
          ? `${opened.detail}, outside the /host0 directory (${realDir})`
          : opened.detail,
      );
      return;
    }
    try {
      sources.set(path, await readOpened(opened.file, opened.info.size));
    } catch (e) {
      bad((e as Error).message);
    } finally {
      opened.file.close();
    }
  }));
  return sources;
}

/**
 * The central node's SSH key for this machine's overlay: none when mesh has
 * no key yet (`<host0>/keys/mesh_ed25519.pub`, made by the daemon on start)
 * or the machine opts out with a `SKIP_SSH` file in its folder.
 */
async function nodeAccess(host0: Host0, machine: Machine): Promise<NodeAccess | undefined> {
  try {
    await Deno.lstat(`${machine.dir}/SKIP_SSH`);
    return undefined;
  } catch { /* not opted out */ }
  try {
    const key = (await Deno.readTextFile(`${host0.root}/keys/mesh_ed25519.pub`)).trim();
    return key === "" ? undefined : { sshPublicKey: key };
  } catch {
    return undefined;
  }
}

/**
 * The central node's IPv4 address as the mesh confs of the overlays name it:
 * http.public_host when that is an IPv4 address, else the one address pinned
 * in mesh.yaml's interfaces. "" when neither says (several segments, or
 * addresses found at run time): the node then takes the host its overlay
 * came from (apkovl= on its kernel command line).
 */
function centralIpv4(host0: Host0): string {
  const publicHost = host0.settings.http.publicHost ?? "";
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(publicHost)) return publicHost;
  const pinned = Object.values(host0.settings.interfaces)
    .filter((i) => i.mode !== "off" && i.address !== undefined);
  return pinned.length === 1 ? formatIpv4(pinned[0]!.address!.ip) : "";
}

/**
 * Builds and publishes the overlays of every non-SKIP machine. Throws
 * ConfigError (with every issue) before touching outDir when any overlay
 * cannot be built.
 */
export async function compileOverlays(host0: Host0, opts: CompileOptions): Promise<CompileResult> {
  const outDir = opts.outDir.replace(/\/+$/, "");
  const machines = host0.machines.filter((m) => !m.skip);
  const issues: ConfigIssue[] = [];
  const sources = await readSources(host0, machines, issues);
  if (issues.length > 0) throw new ConfigError(issues);

  const built: { machine: Machine; data: Uint8Array; files: number; sha256: string }[] = [];
  const central = centralIpv4(host0);
  for (const machine of machines) {
    const access = await nodeAccess(host0, machine);
    // its cluster networks: a conf per mesh, the script, its service, iproute2
    const meshes = meshOverlay(host0.networks, host0.machines, machine, central) ?? undefined;
    const overlay = buildOverlay(machine, host0.groups, sources, access, meshes);
    if (overlay.issues.length > 0) {
      issues.push(...overlay.issues);
      continue;
    }
    const data = writeTarGz(overlay.entries);
    const sha256 = createHash("sha256").update(data).digest("hex");
    built.push({ machine, data, files: overlay.entries.length, sha256 });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const parent = parentOf(outDir);
  await Deno.mkdir(outDir, { recursive: true });
  const tmp = `${parent}/.apkovl-tmp-${randomSuffix()}`;
  await Deno.mkdir(tmp);
  try {
    const index: Record<string, IndexEntry> = {};
    const rows: CompileRow[] = [];
    let done = 0;
    for (const b of built) {
      const file = `${b.machine.id}.tar.gz`;
      await Deno.writeFile(`${tmp}/${file}`, b.data);
      index[b.machine.id] = {
        folder: b.machine.folder,
        file,
        sha256: b.sha256,
        size: b.data.length,
        ...(b.machine.cmdline !== undefined ? { cmdline: b.machine.cmdline } : {}),
      };
      rows.push({
        folder: b.machine.folder,
        id: b.machine.id,
        files: b.files,
        bytes: b.data.length,
        sha256: b.sha256,
        path: `${outDir}/${file}`,
      });
      opts.onProgress?.(++done, built.length, b.machine);
    }
    const sortedIndex = Object.fromEntries(
      Object.entries(index).sort(([a], [b]) => a < b ? -1 : 1),
    );
    await Deno.writeTextFile(`${tmp}/${INDEX_FILE}`, `${JSON.stringify(sortedIndex, null, 2)}\n`);

    // Publish: overlays first, then the index that points at them, then prune.
    for (const b of built) {
      const file = `${b.machine.id}.tar.gz`;
      await Deno.rename(`${tmp}/${file}`, `${outDir}/${file}`);
    }
    await Deno.rename(`${tmp}/${INDEX_FILE}`, `${outDir}/${INDEX_FILE}`);
    for await (const e of Deno.readDir(outDir)) {
      if (e.name.endsWith(".tar.gz") && !(e.name.slice(0, -7) in index)) {
        await Deno.remove(`${outDir}/${e.name}`).catch(() => {});
      }
    }
    return { outDir, rows };
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
