/**
 * @module
 * Test fixture for the app: temporary trees for the mirror, boot files, ISOs
 * and overlays, the in-memory fakes, and a helper to call `app.request` from a
 * given client address.
 */
import { createHash } from "node:crypto";
import { nodeIdFor } from "../boot/mod.ts";
import { MemoryCatalog, MemoryLeases, MemoryRegistry } from "../testing/http_fakes.ts";
import { createApp, type HttpApp } from "./app.ts";
import type { ApiAccess, HttpConfig, OverlayAccess } from "./deps.ts";

export const NODE_MAC = "52:54:00:12:34:56";
export const NODE_UUID = "7e570000-0000-4000-8000-525400110101";
export const NODE_ID = nodeIdFor({ uuid: NODE_UUID }).id;
export const NODE_IP = "10.11.1.20";
export const OTHER_IP = "10.11.1.99";

/** Deterministic pseudo-random bytes (no randomness in tests' expectations). */
export function pattern(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export interface Fixture {
  readonly dir: string;
  readonly app: HttpApp;
  readonly registry: MemoryRegistry;
  readonly catalog: MemoryCatalog;
  readonly leases: MemoryLeases;
  readonly config: HttpConfig;
  readonly files: {
    readonly kernel: Uint8Array;
    readonly initrd: Uint8Array;
    readonly apk: Uint8Array;
    readonly nodeOverlay: Uint8Array;
    readonly defaultOverlay: Uint8Array;
  };
  /** `app.request` from `ip`. */
  req(path: string, init?: RequestInit, ip?: string): Promise<Response>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function makeFixture(
  opts: {
    overlayAccess?: OverlayAccess;
    withDefault?: boolean;
    bigFile?: number;
    baseFromHost?: boolean;
    apiAccess?: ApiAccess;
  } = {},
): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-http-" });
  const mirror = `${dir}/mirror`, boot = `${dir}/boot`, isos = `${dir}/isos`, ovl = `${dir}/apkovl`;
  for (const d of [mirror, `${mirror}/v3.20/main/x86_64`, boot, isos, ovl, `${dir}/outside`]) {
    await Deno.mkdir(d, { recursive: true });
  }
  const files = {
    kernel: pattern(300_000, 7),
    initrd: pattern(120_000, 9),
    apk: pattern(4096, 11),
    nodeOverlay: pattern(2048, 13),
    defaultOverlay: pattern(1024, 17),
  };
  await Deno.writeFile(`${boot}/vmlinuz-lts`, files.kernel);
  await Deno.writeFile(`${boot}/initramfs-lts`, files.initrd);
  await Deno.writeFile(`${boot}/ipxe.efi`, pattern(100, 3));
  await Deno.writeTextFile(`${boot}/menu.ipxe`, "#!ipxe\n");
  await Deno.writeFile(`${mirror}/v3.20/main/x86_64/busybox-1.36.1-r0.apk`, files.apk);
  await Deno.writeTextFile(`${mirror}/v3.20/main/x86_64/APKINDEX.json`, "{}");
  await Deno.writeFile(`${isos}/alpine.iso`, pattern(2048, 5));
  await Deno.writeTextFile(`${dir}/outside/secret.txt`, "secret\n");
  await Deno.symlink(`${dir}/outside/secret.txt`, `${boot}/escape.txt`);
  await Deno.symlink(`${boot}/vmlinuz-lts`, `${boot}/vmlinuz`);
  if (opts.bigFile !== undefined) {
    await Deno.writeFile(`${boot}/big.bin`, pattern(opts.bigFile, 23));
  }
  await Deno.writeFile(`${ovl}/${NODE_ID}.tar.gz`, files.nodeOverlay);
  await Deno.writeFile(`${ovl}/default.tar.gz`, files.defaultOverlay);

  const registry = new MemoryRegistry();
  const catalog = new MemoryCatalog();
  catalog.machines.set(NODE_ID, { folder: "web-01", cmdline: "console=ttyS0" });
  catalog.overlays.set(NODE_ID, {
    path: `${ovl}/${NODE_ID}.tar.gz`,
    size: files.nodeOverlay.length,
    etag: `"${sha256(files.nodeOverlay).slice(0, 32)}"`,
  });
  if (opts.withDefault !== false) {
    catalog.overlays.set("default", {
      path: `${ovl}/default.tar.gz`,
      size: files.defaultOverlay.length,
      etag: `"${sha256(files.defaultOverlay).slice(0, 32)}"`,
    });
  }
  const leases = new MemoryLeases().grant(NODE_IP, NODE_MAC);
  const config: HttpConfig = {
    publicBase: "http://10.11.0.1",
    alpineBranch: "v3.20",
    kernelPath: "/boot/vmlinuz-lts",
    initrdPath: "/boot/initramfs-lts",
    modloopPath: "/boot/modloop-lts",
    repoPath: "/alpine/v3.20/main",
    extraCmdline: "console=tty0",
    overlayAccess: opts.overlayAccess ?? "lease",
    ...(opts.baseFromHost !== undefined ? { baseFromHost: opts.baseFromHost } : {}),
    ...(opts.apiAccess !== undefined ? { apiAccess: opts.apiAccess } : {}),
  };
  let t = 1_700_000_000_000;
  const app = createApp({
    registry,
    catalog,
    leases,
    config,
    roots: { mirror, boot, isos },
    clock: () => t++,
  });
  return {
    dir,
    app,
    registry,
    catalog,
    leases,
    config,
    files,
    req: (path, init, ip = NODE_IP) =>
      Promise.resolve(
        app.request(`http://10.11.0.1${path}`, init, { remoteAddr: { hostname: ip } }),
      ),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}
