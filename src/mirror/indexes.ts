/**
 * @module
 * Step one of a download: every `APKINDEX.tar.gz` of the branch, fetched
 * (conditionally, when the served tree has a copy with an ETag), verified
 * against the trusted keys and parsed, before anything else is fetched. The
 * bytes are kept as they came: the served index is the upstream's, so its
 * signature stays the one nodes already trust.
 */
import { parseApkIndex } from "./apkindex.ts";
import { type TrustedKeys, verifyApkIndex } from "./apk_signature.ts";
import { type FetchPolicy, getBytes, type Upstream, type Validators } from "./fetcher.ts";
import type { MirrorState } from "./layout.ts";
import type { RepoPackage } from "./resolve.ts";

export const REPOSITORIES = ["main", "community"] as const;

/** One verified index. */
export interface IndexRead {
  readonly arch: string;
  readonly repo: string;
  /** Relative to the tree: `main/x86_64/APKINDEX.tar.gz`. */
  readonly rel: string;
  readonly bytes: Uint8Array;
  readonly keyName: string;
  /** Byte for byte the served tree's copy. */
  readonly unchanged: boolean;
  readonly validators: Validators;
  readonly packages: RepoPackage[];
}

export interface IndexContext {
  readonly up: Upstream;
  readonly branch: string;
  readonly policy: FetchPolicy;
  readonly keys: TrustedKeys;
  readonly keysDir: string;
  readonly served: string | null;
  readonly state: MirrorState | null;
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** Fetches, verifies and parses one index; index problems go to `warnings`. */
export async function readIndex(
  c: IndexContext,
  arch: string,
  repo: string,
  warnings: string[],
): Promise<IndexRead> {
  const rel = `${repo}/${arch}/APKINDEX.tar.gz`;
  const where = c.up.where(`${c.branch}/${rel}`);
  const servedIndex = c.served ? await Deno.readFile(`${c.served}/${rel}`).catch(() => null) : null;
  const prev = c.state?.indexes[rel];
  const validators: Validators | undefined = servedIndex && prev
    ? {
      ...(prev.etag ? { etag: prev.etag } : {}),
      ...(prev.lastModified ? { lastModified: prev.lastModified } : {}),
    }
    : undefined;
  const got = await getBytes(
    c.up,
    `${c.branch}/${rel}`,
    c.policy,
    validators ? { validators } : {},
  );
  if (got.status === "missing") throw new Error(`${where}: not found`);
  const bytes = got.status === "ok" ? got.bytes : servedIndex!;
  const v = verifyApkIndex(bytes, c.keys, where, c.keysDir);
  const parsed = parseApkIndex(v.apkindex, where);
  for (const p of parsed.problems) warnings.push(`${p.file}:${p.line}: ${p.message}`);
  if (parsed.packages.length === 0 && v.apkindex.trim() !== "") {
    const first = parsed.problems[0];
    throw new Error(
      `${where}: malformed APKINDEX: no package record could be read` +
        (first ? ` (line ${first.line}: ${first.message})` : ""),
    );
  }
  return {
    arch,
    repo,
    rel,
    bytes,
    keyName: v.keyName,
    unchanged: servedIndex !== null && same(servedIndex, bytes),
    validators: got.status === "ok" ? got.validators : (validators ?? {}),
    packages: parsed.packages.map((p) => ({ ...p, repo })),
  };
}
