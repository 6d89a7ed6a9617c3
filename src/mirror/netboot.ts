/**
 * @module
 * The netboot files the boot script loads: `<branch>/releases/<arch>/netboot/
 * {vmlinuz-lts,initramfs-lts,modloop-lts}`. Each is checked against a
 * `<file>.sha512` or `<file>.sha256` beside it when the upstream publishes
 * one (mirrors made by `mesh` and most local trees do; dl-cdn publishes
 * checksums only for the release tarballs in latest-releases.yaml, which
 * hold the same files but weigh hundreds of MiB, so they are named in the
 * report and not fetched). Without a checksum a file is kept while the
 * upstream's ETag (or a local file's size and mtime) stays the same.
 */
import { parse as parseYaml } from "yaml";
import { type FetchPolicy, getBytes, getFile, type Upstream } from "./fetcher.ts";
import type { NetbootRecord } from "./layout.ts";
import { linkInto } from "./publish.ts";
import { hashFile } from "./verify_file.ts";

export const NETBOOT_FILES = ["vmlinuz-lts", "initramfs-lts", "modloop-lts"] as const;

/** One netboot file of the new tree. */
export interface NetbootResult extends NetbootRecord {
  readonly rel: string;
  readonly downloaded: boolean;
}

export interface NetbootContext {
  readonly up: Upstream;
  readonly branch: string;
  readonly arch: string;
  readonly policy: FetchPolicy;
  readonly staging: string;
  readonly partial: string;
  readonly served: string | null;
  readonly previous: Readonly<Record<string, NetbootRecord>>;
  readonly onBytes: (n: number) => void;
}

/** The hex digest a `.sha512`/`.sha256` file gives (first token). */
async function sidecar(c: NetbootContext, rel: string) {
  for (const alg of ["sha512", "sha256"] as const) {
    const r = await getBytes(c.up, `${c.branch}/${rel}.${alg}`, c.policy, { optional: true });
    if (r.status !== "ok") continue;
    const m = /^([0-9a-fA-F]+)/.exec(new TextDecoder().decode(r.bytes).trim());
    if (m && m[1]!.length === (alg === "sha512" ? 128 : 64)) {
      return { alg, hash: m[1]!.toLowerCase() };
    }
  }
  return null;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  return await Deno.stat(path).catch(() => null);
}

async function one(c: NetbootContext, name: string): Promise<NetbootResult> {
  const rel = `releases/${c.arch}/netboot/${name}`;
  const staged = `${c.staging}/${rel}`;
  const servedFile = c.served ? `${c.served}/${rel}` : null;
  const have = servedFile ? await statOrNull(servedFile) : null;
  const prev = c.previous[rel];
  const sum = await sidecar(c, rel);
  const localTag = async () => {
    const s = await statOrNull(c.up.where(`${c.branch}/${rel}`));
    return s ? `local:${s.size}:${s.mtime?.getTime() ?? 0}` : undefined;
  };
  const reuse = async (): Promise<boolean> => {
    if (!have || !prev || have.size !== prev.size) return false;
    if (sum) return prev.hash === sum.hash;
    if (c.up.local) return prev.etag !== undefined && prev.etag === await localTag();
    return false;
  };
  if (await reuse()) {
    await linkInto(servedFile!, staged);
    return { ...prev!, rel, downloaded: false };
  }
  const part = `${c.partial}/${rel.replaceAll("/", "_")}`;
  await Deno.mkdir(c.partial, { recursive: true });
  for (let i = 0;; i++) {
    // Without a checksum, ask "changed since?" with the ETag we stored.
    const conditional = !sum && have && prev?.etag && !c.up.local ? { etag: prev.etag } : undefined;
    if (conditional) await Deno.remove(part).catch(() => {});
    const got = await getFile(c.up, `${c.branch}/${rel}`, part, c.policy, {
      onBytes: c.onBytes,
      ...(conditional ? { validators: conditional } : {}),
    });
    if (got.notModified) {
      await linkInto(servedFile!, staged);
      return { ...prev!, rel, downloaded: false };
    }
    const size = (await Deno.stat(part)).size;
    const hash = sum ? await hashFile(part, sum.alg) : undefined;
    if (!sum || hash === sum.hash) {
      await Deno.mkdir(staged.slice(0, staged.lastIndexOf("/")), { recursive: true });
      await Deno.rename(part, staged);
      const etag = c.up.local ? await localTag() : got.validators.etag;
      return {
        rel,
        size,
        check: sum ? sum.alg : "none",
        downloaded: true,
        ...(hash ? { hash } : {}),
        ...(etag ? { etag } : {}),
      };
    }
    await Deno.remove(part);
    if (i + 1 >= c.policy.attempts) {
      throw new Error(
        `${c.up.where(`${c.branch}/${rel}`)}: ${sum.alg} ${hash} does not match ` +
          `${name}.${sum.alg} (${sum.hash}) after ${c.policy.attempts} attempts`,
      );
    }
  }
}

/** Fetches (or keeps) the three netboot files of one arch into the staging tree. */
export async function fetchNetboot(c: NetbootContext): Promise<NetbootResult[]> {
  const out: NetbootResult[] = [];
  for (const name of NETBOOT_FILES) out.push(await one(c, name));
  return out;
}

/** The release the upstream calls current (latest-releases.yaml), or undefined. */
export async function latestRelease(
  up: Upstream,
  branch: string,
  arch: string,
  policy: FetchPolicy,
): Promise<{ version: string; file: string; sha256?: string } | undefined> {
  const rel = `${branch}/releases/${arch}/latest-releases.yaml`;
  const r = await getBytes(up, rel, policy, { optional: true }).catch(() => null);
  if (!r || r.status !== "ok") return undefined;
  try {
    const doc = parseYaml(new TextDecoder().decode(r.bytes)) as unknown;
    if (!Array.isArray(doc)) return undefined;
    const nb = doc.find((e) => e && typeof e === "object" && e.flavor === "alpine-netboot");
    if (!nb || typeof nb.version !== "string" || typeof nb.file !== "string") return undefined;
    return {
      version: nb.version,
      file: nb.file,
      ...(typeof nb.sha256 === "string" ? { sha256: nb.sha256 } : {}),
    };
  } catch {
    return undefined;
  }
}
