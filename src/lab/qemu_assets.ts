/**
 * @module
 * Boot assets of the QEMU PXE kit (`mesh lab --qemu` and the e2e tests): the
 * Debian kernel and a busybox initramfs running src/lab/assets/init, built
 * once and cached in /var/cache/mesh-e2e/<kernel-version>/<hash>/.
 */

export const CACHE_ROOT = "/var/cache/mesh-e2e";
/** Bump when the layout of the built initramfs changes (it is part of the cache key). */
const KIT_FORMAT = "mesh-e2e-initramfs-1";
/** NIC drivers the guest may need; their dependencies are added from modinfo. */
const NIC_MODULES = ["virtio_pci", "virtio_net", "e1000"] as const;
const ASSETS = new URL("./assets/", import.meta.url);

export interface BootAssets {
  /** The Debian vmlinuz (XZ bzImage with EFI stub). */
  readonly kernel: string;
  /** gzip'd newc cpio initramfs. */
  readonly initrd: string;
  /** Directory holding exactly `vmlinuz` and `initrd.gz`. */
  readonly dir: string;
}

let assetsOnce: Promise<BootAssets> | null = null;

/** Kernel + initramfs for the guest, built once and cached (see the module comment). */
export function prepareBootAssets(): Promise<BootAssets> {
  assetsOnce ??= buildAssets().catch((e) => {
    assetsOnce = null;
    throw e;
  });
  return assetsOnce;
}

async function buildAssets(): Promise<BootAssets> {
  // Without the Debian mirror (offline CI, a point release not downloadable
  // yet) an already cached kernel is as good for these tests.
  let kpkg: string;
  try {
    kpkg = await kernelPackage();
  } catch (e) {
    const cached = cachedKernels()[0];
    if (cached === undefined) throw e;
    kpkg = `linux-image-${cached}`;
  }
  try {
    return await buildAssetsFor(kpkg);
  } catch (e) {
    const kver = kpkg.replace(/^linux-image-/, "");
    const cached = cachedKernels().find((k) => k !== kver);
    if (cached === undefined) throw e;
    return await buildAssetsFor(`linux-image-${cached}`);
  }
}

/** Kernel versions with a complete kernel cache, newest name first. */
function cachedKernels(): string[] {
  try {
    return [...Deno.readDirSync(CACHE_ROOT)]
      .map((e) => e.name)
      .filter((k) =>
        exists(`${CACHE_ROOT}/${k}/vmlinuz`) && exists(`${CACHE_ROOT}/${k}/modules/load.order`)
      )
      .sort((a, b) => b.localeCompare(a, "en", { numeric: true }));
  } catch {
    return [];
  }
}

async function buildAssetsFor(kpkg: string): Promise<BootAssets> {
  const kver = kpkg.replace(/^linux-image-/, "");
  const base = `${CACHE_ROOT}/${kver}`;
  await Deno.mkdir(base, { recursive: true });
  // Parallel test processes build the same cache: one at a time.
  const lock = await Deno.open(`${base}/.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    await ensureKernel(kpkg, base);
    const busybox = await ensureBusybox();
    const init = await Deno.readFile(new URL("init", ASSETS));
    const udhcpc = await Deno.readFile(new URL("udhcpc.script", ASSETS));
    const order = (await Deno.readTextFile(`${base}/modules/load.order`)).trim();
    const key = await sha256Hex(
      [KIT_FORMAT, order, await sha256Hex(init), await sha256Hex(udhcpc), busybox.sha].join("\n"),
    );
    const dir = `${base}/${key.slice(0, 16)}`;
    const assets = { kernel: `${dir}/vmlinuz`, initrd: `${dir}/initrd.gz`, dir };
    if (exists(assets.initrd) && exists(assets.kernel)) return assets;
    const tmp = await Deno.makeTempDir({ dir: base, prefix: ".build-" });
    try {
      await buildInitramfs(`${tmp}/root`, `${tmp}/initrd.gz`, {
        busybox: busybox.path,
        init,
        udhcpc,
        modules: `${base}/modules`,
        order: order.split(/\s+/).filter(Boolean),
      });
      await Deno.mkdir(`${tmp}/out`);
      await Deno.rename(`${tmp}/initrd.gz`, `${tmp}/out/initrd.gz`);
      await Deno.link(`${base}/vmlinuz`, `${tmp}/out/vmlinuz`);
      await Deno.remove(dir, { recursive: true }).catch(() => undefined);
      await Deno.rename(`${tmp}/out`, dir);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
    }
    return assets;
  } finally {
    await lock.unlock().catch(() => undefined);
    lock.close();
  }
}

/** "linux-image-6.1.0-56-amd64": what the meta package depends on right now. */
async function kernelPackage(): Promise<string> {
  const find = async () => {
    const r = await sh(["apt-cache", "depends", "linux-image-amd64"]);
    return /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(r.stdout)?.[1];
  };
  const found = (await find()) ?? (await must(["apt-get", "update", "-qq"]), await find());
  if (!found) {
    throw new Error("cannot determine the kernel package (apt-cache depends linux-image-amd64)");
  }
  return found;
}

/** `<base>/vmlinuz` and `<base>/modules/{*.ko,load.order}` from the kernel .deb. */
async function ensureKernel(kpkg: string, base: string): Promise<void> {
  if (exists(`${base}/vmlinuz`) && exists(`${base}/modules/load.order`)) return;
  const tmp = await Deno.makeTempDir({ dir: base, prefix: ".kernel-" });
  try {
    await must(["apt-get", "download", "-q", kpkg], tmp);
    const deb = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".deb"))?.name;
    if (!deb) throw new Error(`apt-get download ${kpkg} produced no .deb`);
    await must(["dpkg-deb", "-x", `${tmp}/${deb}`, `${tmp}/x`]);
    const vmlinuz = [...Deno.readDirSync(`${tmp}/x/boot`)].find((e) =>
      e.name.startsWith("vmlinuz-")
    );
    if (!vmlinuz) throw new Error(`${deb} has no /boot/vmlinuz-*`);
    const modRoot = [...Deno.readDirSync(`${tmp}/x/lib/modules`)][0]?.name;
    if (!modRoot) throw new Error(`${deb} has no /lib/modules`);
    const index = new Map<string, string>();
    indexModules(`${tmp}/x/lib/modules/${modRoot}/kernel`, index);
    const out = `${tmp}/modules`;
    await Deno.mkdir(out);
    const order: string[] = [];
    const seen = new Set<string>();
    // Dependencies first: the guest insmods in this order (the list changes between builds).
    const add = async (name: string): Promise<void> => {
      if (seen.has(name)) return;
      seen.add(name);
      const src = index.get(name);
      if (src === undefined) return; // built into the kernel
      const dst = `${out}/${name}.ko`;
      if (src.endsWith(".xz")) await must(["sh", "-c", `xz -dc '${src}' > '${dst}'`]);
      else if (src.endsWith(".zst")) await must(["zstd", "-q", "-d", "-o", dst, src]);
      else await Deno.copyFile(src, dst);
      const info = new TextDecoder("latin1").decode(await Deno.readFile(dst));
      const deps = /\0depends=([^\0]*)\0/.exec(info)?.[1] ?? "";
      for (const d of deps.split(",").filter(Boolean)) await add(d.replaceAll("-", "_"));
      order.push(name);
    };
    for (const m of NIC_MODULES) await add(m);
    await Deno.writeTextFile(`${out}/load.order`, order.join("\n") + "\n");
    await Deno.remove(`${base}/modules`, { recursive: true }).catch(() => undefined);
    await Deno.rename(out, `${base}/modules`);
    await Deno.rename(`${tmp}/x/boot/${vmlinuz.name}`, `${base}/vmlinuz`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
  }
}

function indexModules(dir: string, index: Map<string, string>): void {
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) indexModules(p, index);
    const m = /^(.+)\.ko(\.xz|\.zst)?$/.exec(e.name);
    if (e.isFile && m) index.set(m[1]!.replaceAll("-", "_"), p);
  }
}

/**
 * A statically linked busybox: /bin/busybox when it is static, else the one
 * from the busybox-static .deb, unpacked without installing it (installing
 * would remove Debian's `busybox` and `udhcpc` packages).
 */
async function ensureBusybox(): Promise<{ path: string; sha: string }> {
  let path = "/bin/busybox";
  if (!exists(path) || !isStaticElf(await Deno.readFile(path))) {
    path = `${CACHE_ROOT}/busybox-static/busybox`;
    if (!exists(path)) {
      await Deno.mkdir(`${CACHE_ROOT}/busybox-static`, { recursive: true });
      const tmp = await Deno.makeTempDir({ dir: `${CACHE_ROOT}/busybox-static`, prefix: ".dl-" });
      try {
        await must(["apt-get", "download", "-q", "busybox-static"], tmp);
        const deb = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".deb"))?.name;
        if (!deb) throw new Error("apt-get download busybox-static produced no .deb");
        await must(["dpkg-deb", "-x", `${tmp}/${deb}`, `${tmp}/x`]);
        await Deno.rename(`${tmp}/x/bin/busybox`, path);
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => undefined);
      }
    }
  }
  return { path, sha: await sha256Hex(await Deno.readFile(path)) };
}

/** An ELF executable without a PT_INTERP program header needs no dynamic loader. */
export function isStaticElf(b: Uint8Array): boolean {
  if (b.length < 64 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) {
    return false;
  }
  if (b[4] !== 2 || b[5] !== 1) return false; // only 64-bit little-endian is used here
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = Number(v.getBigUint64(0x20, true));
  const phentsize = v.getUint16(0x36, true);
  const phnum = v.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > b.length) return false;
    if (v.getUint32(at, true) === 3) return false; // PT_INTERP
  }
  return true;
}

async function buildInitramfs(
  root: string,
  out: string,
  src: { busybox: string; init: Uint8Array; udhcpc: Uint8Array; modules: string; order: string[] },
): Promise<void> {
  for (
    const d of ["bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "sysroot", "lib/modules"]
  ) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.copyFile(src.busybox, `${root}/bin/busybox`);
  await Deno.chmod(`${root}/bin/busybox`, 0o755);
  await Deno.symlink("busybox", `${root}/bin/sh`);
  await Deno.writeFile(`${root}/init`, src.init, { mode: 0o755 });
  await Deno.chmod(`${root}/init`, 0o755);
  await Deno.writeFile(`${root}/etc/udhcpc.script`, src.udhcpc, { mode: 0o755 });
  await Deno.chmod(`${root}/etc/udhcpc.script`, 0o755);
  for (const m of src.order) {
    await Deno.copyFile(`${src.modules}/${m}.ko`, `${root}/lib/modules/${m}.ko`);
  }
  await Deno.writeTextFile(`${root}/lib/modules/load.order`, src.order.join("\n") + "\n");
  // The kernel opens /dev/console for init before devtmpfs is mounted.
  await must(["mknod", "-m", "600", `${root}/dev/console`, "c", "5", "1"]);
  await must(["sh", "-c", `find . | cpio -o -H newc -R 0:0 --quiet | gzip -9 > '${out}'`], root);
}

export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, "0")).join("");
}

async function sh(cmd: readonly string[], cwd?: string) {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1) as string[],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
    env: { DEBIAN_FRONTEND: "noninteractive" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function must(cmd: readonly string[], cwd?: string): Promise<string> {
  const r = await sh(cmd, cwd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
