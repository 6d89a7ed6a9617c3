/**
 * @module
 * Shared set-up of the download tests: a small repository shaped like
 * Alpine's (so: provides, a virtual name with two providers ranked by k:,
 * two versions of one library picked by constraints, an install_if package,
 * a conflict, a community package), served on 127.0.0.1, and a helper that
 * runs downloadMirror against it.
 */
import {
  downloadMirror,
  type DownloadReport,
  type FetchPolicy,
  type Wanted,
} from "../../src/mirror/mod.ts";
import { buildRepo, makeKey, type PkgSpec, type Repo, type RepoKey } from "./_repo_fixture.ts";
import { type Served, serveRepo } from "./_repo_server.ts";

export const LIBC = "so:libc.musl-x86_64.so.1";

export const SPECS: readonly PkgSpec[] = [
  { name: "musl", version: "1.2.5-r10", provides: [`${LIBC}=1`] },
  { name: "busybox", version: "1.37.0-r12", depends: [LIBC], provides: ["cmd:sh"], payload: 3000 },
  { name: "busybox-extras", version: "1.37.0-r12", depends: ["busybox"] },
  { name: "alpine-baselayout", version: "3.7.0-r0" },
  { name: "openrc", version: "0.55.1-r2", depends: [LIBC] },
  {
    name: "alpine-base",
    version: "3.22.1-r0",
    depends: ["alpine-baselayout", "busybox", "openrc"],
  },
  { name: "libcrypto3", version: "3.5.1-r0", depends: [LIBC], provides: ["so:libcrypto.so.3=3"] },
  {
    name: "openssh-client",
    version: "10.0_p1-r7",
    depends: ["so:libcrypto.so.3", "!busybox-extras"],
  },
  { name: "openssh-server-common", version: "10.0_p1-r7" },
  { name: "openssh-server", version: "10.0_p1-r7", depends: ["openssh-server-common", LIBC] },
  { name: "openssh", version: "10.0_p1-r7", depends: ["openssh-client", "openssh-server"] },
  {
    name: "openssh-server-openrc",
    version: "10.0_p1-r7",
    installIf: ["openssh-server=10.0_p1-r7", "openrc"],
  },
  { name: "ssmtp", version: "2.64-r22", provides: ["mta"], priority: 10 },
  { name: "postfix", version: "3.10.3-r0", provides: ["mta"], priority: 20 },
  { name: "libfoo", version: "1.0-r0" },
  { name: "libfoo", version: "2.1-r0" },
  { name: "app", version: "0.9-r1", depends: ["libfoo<2"] },
  { name: "unwanted", version: "1-r0" },
  { name: "qemu-img", version: "10.0.2-r0", repo: "community", depends: [LIBC], payload: 20000 },
];

/** What the nodes of the tests ask for. */
export const WANTED: readonly Wanted[] = [
  { name: "alpine-base", from: "alpine-base (installed by the initramfs)" },
  { name: "openssh", from: "/h/packages" },
  { name: "mta", from: "/h/packages" },
  { name: "app", from: "/h/machines/web/packages" },
  { name: "libfoo", from: "/h/machines/web/packages" },
  { name: "qemu-img", from: "/h/groups/kvm/packages" },
];

/** The closure apk would fetch for WANTED, as tree-relative files. */
export const CLOSURE = [
  "main/x86_64/alpine-base-3.22.1-r0.apk",
  "main/x86_64/alpine-baselayout-3.7.0-r0.apk",
  "main/x86_64/app-0.9-r1.apk",
  "main/x86_64/busybox-1.37.0-r12.apk",
  "main/x86_64/libcrypto3-3.5.1-r0.apk",
  "main/x86_64/libfoo-1.0-r0.apk",
  "main/x86_64/libfoo-2.1-r0.apk",
  "main/x86_64/musl-1.2.5-r10.apk",
  "main/x86_64/openrc-0.55.1-r2.apk",
  "main/x86_64/openssh-10.0_p1-r7.apk",
  "main/x86_64/openssh-client-10.0_p1-r7.apk",
  "main/x86_64/openssh-server-10.0_p1-r7.apk",
  "main/x86_64/openssh-server-common-10.0_p1-r7.apk",
  "main/x86_64/openssh-server-openrc-10.0_p1-r7.apk",
  "main/x86_64/postfix-3.10.3-r0.apk",
  "community/x86_64/qemu-img-10.0.2-r0.apk",
].sort();

/** Quick timeouts so the bad-upstream tests end in well under a second each. */
export const FAST: FetchPolicy = {
  attempts: 3,
  headersTimeoutMs: 2_000,
  stallTimeoutMs: 300,
  backoffMs: 5,
};

let sharedKey: RepoKey | undefined;
const keyDir = await Deno.makeTempDir({ prefix: "mesh-key-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(keyDir, { recursive: true });
  } catch { /* already gone */ }
});

/** One key for the whole test file: genrsa costs ~100 ms. */
export async function testKey(): Promise<RepoKey> {
  return sharedKey ??= await makeKey(keyDir);
}

export interface World {
  readonly dir: string;
  readonly repo: Repo;
  readonly server: Served;
  readonly mirrorDir: string;
  readonly served: string;
  run(opts?: {
    wanted?: readonly Wanted[];
    policy?: FetchPolicy;
    keysDir?: string;
    from?: string;
    parallel?: number;
    arches?: readonly string[];
  }): Promise<DownloadReport>;
  close(): Promise<void>;
}

export async function world(
  specs: readonly PkgSpec[] = SPECS,
  netbootChecksums = true,
  arches: readonly string[] = ["x86_64"],
): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-mirror-" });
  const key = await testKey();
  const repo = await buildRepo(`${dir}/upstream`, specs, { netbootChecksums, arches }, key);
  const server = serveRepo(repo.root);
  const mirrorDir = `${dir}/mirror`;
  return {
    dir,
    repo,
    server,
    mirrorDir,
    served: `${mirrorDir}/${repo.branch}`,
    run: (o = {}) =>
      downloadMirror({
        from: o.from ?? server.url,
        branch: repo.branch,
        arches: o.arches ?? ["x86_64"],
        mirrorDir,
        keysDir: o.keysDir ?? key.keysDir,
        wanted: o.wanted ?? WANTED,
        policy: o.policy ?? FAST,
        ...(o.parallel ? { parallel: o.parallel } : {}),
      }),
    close: async () => {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Relative paths of every file under `dir`, sorted. */
export async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel ? `${dir}/${rel}` : dir)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else out.push(r);
    }
  };
  await walk("");
  return out.sort();
}

/** A snapshot of what HTTP would serve: real path, file list, index bytes. */
export async function snapshot(served: string) {
  const real = await Deno.realPath(served);
  return {
    real,
    files: await files(real),
    index: await Deno.readFile(`${real}/main/x86_64/APKINDEX.tar.gz`),
  };
}

/** A /host0 asking for the fixture's packages: top-level, a group, a machine. */
export async function host0(
  dir: string,
  upstream: string,
  key: RepoKey,
  lists: { top?: string; group?: string; machine?: string } = {},
) {
  const h = `${dir}/host0`;
  await Deno.mkdir(`${h}/machines/web`, { recursive: true });
  await Deno.mkdir(`${h}/groups/kvm`, { recursive: true });
  await Deno.mkdir(`${h}/keys/apk`, { recursive: true });
  await Deno.writeTextFile(
    `${h}/mesh.yaml`,
    `boot:\n  alpine_branch: v3.22\nmirror:\n  dir: ${dir}/mirror\n  upstream: ${upstream}\n`,
  );
  await Deno.writeTextFile(
    `${h}/packages`,
    lists.top ?? "# mirrored for every node\nopenssh\nmta\n",
  );
  await Deno.writeTextFile(`${h}/groups/kvm/packages`, lists.group ?? "qemu-img\n");
  await Deno.writeTextFile(`${h}/machines/web/UUID`, "0a1b2c3d\n");
  await Deno.writeTextFile(`${h}/machines/web/groups`, "kvm\n");
  await Deno.writeTextFile(`${h}/machines/web/packages`, lists.machine ?? "app\nlibfoo\n");
  await Deno.mkdir(`${h}/machines/default`);
  await Deno.writeTextFile(`${h}/machines/default/UUID`, "default\n");
  for (const d of ["machines/web", "machines/default", "groups/kvm"]) {
    await Deno.writeTextFile(`${h}/${d}/manifest`, "# nothing to place\n");
  }
  await Deno.copyFile(`${key.keysDir}/${key.name}`, `${h}/keys/apk/${key.name}`);
  return h;
}
