/**
 * @module
 * Builds the file tree of one machine's overlay from its groups' manifests
 * (in the order of its groups file) and then its own manifest. Pure: source
 * file contents are passed in.
 *
 * O replaces content and mode; A appends (creating the file with MODE when
 * absent, keeping the mode otherwise); L makes TGT a symlink to SRC; D makes a
 * directory. Missing parents are created root:root 0755. etc/apk/world gets the
 * packages of the groups and the machine, merged with whatever a manifest
 * wrote there. etc/.default_boot_services is added unless the tree carries its
 * own etc/runlevels/. With a NodeAccess, root gets the central node's SSH key
 * and sshd runs (openssh in the world file, etc/runlevels/default/sshd).
 * GeneratedParts (the node's meshes) add files, packages and service links.
 */
import { concatBytes } from "../wire/mod.ts";
import type { ConfigIssue } from "../errors.ts";
import type { Group, Machine, ManifestLine } from "../config/mod.ts";
import { entryProblem, EntryType, type TarEntry } from "./tar.ts";
import { NODE_ID_SHELL } from "../boot/mod.ts";

/** Contents of the O/A source files, keyed by their mapped host path. */
export type SourceFiles = ReadonlyMap<string, Uint8Array>;

interface Node {
  entry: TarEntry;
  /** The manifest line that made it, or null for implicit entries. */
  origin: ManifestLine | null;
}

const ROOT_DIR = { mode: 0o755, uid: 0, gid: 0, uname: "root", gname: "root" } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function where(n: Node): string {
  return n.origin ? `${n.origin.file}:${n.origin.line}` : "mesh";
}

class Tree {
  readonly nodes = new Map<string, Node>();
  readonly issues: ConfigIssue[] = [];

  fail(line: ManifestLine, message: string): void {
    this.issues.push({ file: line.file, line: line.line, message });
  }

  /** Creates missing parents; false (with an issue) when a parent is not a directory. */
  parents(rel: string, line: ManifestLine | null): boolean {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      const n = this.nodes.get(p);
      if (!n) {
        this.nodes.set(p, {
          entry: { path: p, type: EntryType.Directory, ...ROOT_DIR },
          origin: null,
        });
      } else if (n.entry.type !== EntryType.Directory) {
        if (line) this.fail(line, `/${p} is a ${n.entry.type} (from ${where(n)}), not a directory`);
        return false;
      }
    }
    return true;
  }

  apply(l: ManifestLine, sources: SourceFiles): void {
    const rel = l.tgt.slice(1);
    if (!this.parents(rel, l)) return;
    const existing = this.nodes.get(rel);
    const owner = l.mode
      ? {
        mode: l.mode.perms,
        uid: l.mode.uid,
        gid: l.mode.gid,
        uname: l.mode.user,
        gname: l.mode.group,
      }
      : null;
    const isDir = existing?.entry.type === EntryType.Directory;
    switch (l.action) {
      case "O":
      case "A": {
        const data = sources.get(l.src!);
        if (data === undefined) return this.fail(l, `SRC ${l.srcText} could not be read`);
        if (isDir) return this.fail(l, `${l.tgt} is a directory (from ${where(existing!)})`);
        if (l.action === "A" && existing?.entry.type === EntryType.Symlink) {
          return this.fail(
            l,
            `cannot append to ${l.tgt}: it is a symlink (from ${where(existing)})`,
          );
        }
        const entry: TarEntry = l.action === "A" && existing
          ? {
            ...existing.entry,
            content: concatBytes([existing.entry.content ?? new Uint8Array(0), data]),
          }
          : { path: rel, type: EntryType.File, ...owner!, content: data };
        this.nodes.set(rel, { entry, origin: l });
        return;
      }
      case "L":
        if (isDir) return this.fail(l, `${l.tgt} is a directory (from ${where(existing!)})`);
        this.nodes.set(rel, {
          entry: { path: rel, type: EntryType.Symlink, ...ROOT_DIR, mode: 0o777, linkname: l.src! },
          origin: l,
        });
        return;
      case "D":
        if (existing && !isDir) {
          return this.fail(l, `${l.tgt} is a ${existing.entry.type} (from ${where(existing)})`);
        }
        this.nodes.set(rel, {
          entry: { path: rel, type: EntryType.Directory, ...owner! },
          origin: l,
        });
        return;
    }
  }
}

/** Adds a generated file unless a manifest already wrote that path. */
function addGenerated(tree: Tree, path: string, text: string, mode: number): void {
  if (tree.nodes.has(path) || !tree.parents(path, null)) return;
  tree.nodes.set(path, {
    entry: { path, type: EntryType.File, ...ROOT_DIR, mode, content: encoder.encode(text) },
    origin: null,
  });
}

/** How the central node reaches the node: its public key for root, with sshd enabled. */
export interface NodeAccess {
  readonly sshPublicKey: string;
}

/**
 * Installs `access.sshPublicKey` for root (appended to an authorized_keys a
 * manifest wrote) and links sshd into the default runlevel, unless a
 * manifest put something else at those paths (then the manifest wins).
 */
function addAccess(tree: Tree, access: NodeAccess): void {
  const dir = (path: string, mode: number) => {
    if (tree.nodes.has(path) || !tree.parents(path, null)) return;
    tree.nodes.set(path, {
      entry: { path, type: EntryType.Directory, ...ROOT_DIR, mode },
      origin: null,
    });
  };
  dir("root", 0o700);
  dir("root/.ssh", 0o700);
  const line = `${access.sshPublicKey.trim()}\n`;
  const keys = tree.nodes.get("root/.ssh/authorized_keys");
  if (keys?.entry.type === EntryType.File) {
    const text = decoder.decode(keys.entry.content);
    if (!text.includes(access.sshPublicKey.trim())) {
      const sep = text === "" || text.endsWith("\n") ? "" : "\n";
      keys.entry = { ...keys.entry, content: encoder.encode(text + sep + line) };
    }
  } else addGenerated(tree, "root/.ssh/authorized_keys", line, 0o600);
  const link = "etc/runlevels/default/sshd";
  if (!tree.nodes.has(link) && tree.parents(link, null)) {
    tree.nodes.set(link, {
      entry: {
        path: link,
        type: EntryType.Symlink,
        ...ROOT_DIR,
        mode: 0o777,
        linkname: "/etc/init.d/sshd",
      },
      origin: null,
    });
  }
}

/**
 * Files, packages and symlinks mesh adds for a machine beyond its manifests
 * (its cluster networks: src/meshnet). A path a manifest wrote is left to
 * the manifest.
 */
export interface GeneratedParts {
  readonly files: readonly {
    readonly path: string;
    readonly text: string;
    readonly mode: number;
  }[];
  readonly packages: readonly string[];
  /** [link path, target]. */
  readonly links: readonly (readonly [string, string])[];
}

function addLink(tree: Tree, link: string, target: string): void {
  if (tree.nodes.has(link) || !tree.parents(link, null)) return;
  tree.nodes.set(link, {
    entry: { path: link, type: EntryType.Symlink, ...ROOT_DIR, mode: 0o777, linkname: target },
    origin: null,
  });
}

/** Result of building one overlay: sorted entries, or issues. */
export interface BuiltOverlay {
  readonly entries: TarEntry[];
  readonly issues: ConfigIssue[];
}

/**
 * Builds the overlay entries of `machine` (sorted by path). Every problem is
 * returned as an issue at the manifest line that caused it.
 */
export function buildOverlay(
  machine: Machine,
  groups: ReadonlyMap<string, Group>,
  sources: SourceFiles,
  access?: NodeAccess,
  generated?: GeneratedParts,
): BuiltOverlay {
  const tree = new Tree();
  const packages: string[] = [];
  for (const name of machine.groups) {
    const g = groups.get(name);
    if (!g) {
      tree.issues.push({ file: `${machine.dir}/groups`, message: `no such group "${name}"` });
      continue;
    }
    for (const l of g.manifest) tree.apply(l, sources);
    packages.push(...g.packages);
  }
  for (const l of machine.manifest) tree.apply(l, sources);
  packages.push(...machine.packages);
  // sshd for `mesh node ctl` (openssh: its init script makes the host keys on first start)
  if (access) packages.push("openssh");
  if (generated) packages.push(...generated.packages);

  const world = tree.nodes.get("etc/apk/world");
  if (world && world.entry.type !== EntryType.File) {
    tree.issues.push({
      file: world.origin?.file ?? machine.dir,
      ...(world.origin ? { line: world.origin.line } : {}),
      message: "/etc/apk/world must be a regular file",
    });
  } else if (packages.length > 0 || world) {
    const written = world ? decoder.decode(world.entry.content).split(/\s+/) : [];
    const all = [...new Set([...written, ...packages].filter((p) => p !== ""))].sort();
    const content = encoder.encode(all.length ? `${all.join("\n")}\n` : "");
    tree.parents("etc/apk/world", null);
    tree.nodes.set("etc/apk/world", {
      entry: world
        ? { ...world.entry, content }
        : { path: "etc/apk/world", type: EntryType.File, ...ROOT_DIR, mode: 0o644, content },
      origin: world?.origin ?? null,
    });
  }

  // What the node needs to know about itself: which overlay it got (its node
  // id, or "default") and the rule to compute its own id ("genid machine 8").
  addGenerated(tree, "etc/mesh/node-id", `${machine.id}\n`, 0o644);
  addGenerated(
    tree,
    "etc/mesh/genid.sh",
    `#!/bin/sh\n# Prints this node's mesh id (same rule as the central node).\n${NODE_ID_SHELL}\n`,
    0o755,
  );

  // Decided before the sshd link is added: that link alone must not stop
  // Alpine from adding its default boot services.
  const ownRunlevels = tree.nodes.has("etc/runlevels");
  if (access) addAccess(tree, access);
  for (const f of generated?.files ?? []) addGenerated(tree, f.path, f.text, f.mode);
  for (const [link, target] of generated?.links ?? []) addLink(tree, link, target);
  if (!ownRunlevels) {
    const existing = tree.nodes.get("etc/.default_boot_services");
    if (!existing && tree.parents("etc/.default_boot_services", null)) {
      tree.nodes.set("etc/.default_boot_services", {
        entry: {
          path: "etc/.default_boot_services",
          type: EntryType.File,
          ...ROOT_DIR,
          mode: 0o644,
          content: new Uint8Array(0),
        },
        origin: null,
      });
    }
  }

  const paths = [...tree.nodes.keys()].sort();
  const entries: TarEntry[] = [];
  for (const p of paths) {
    const n = tree.nodes.get(p)!;
    const problem = entryProblem(n.entry);
    if (problem !== null) {
      tree.issues.push({
        file: n.origin?.file ?? machine.dir,
        ...(n.origin ? { line: n.origin.line } : {}),
        message: `/${p}: ${problem}`,
      });
      continue;
    }
    entries.push(n.entry);
  }
  return { entries, issues: tree.issues };
}
