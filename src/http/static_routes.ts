/**
 * @module
 * Static trees: `/alpine/` (mirror), `/boot/` (kernels, initramfs, modloop,
 * iPXE binaries) and `/isos/`. The traversal guard is the one TFTP uses
 * (src/files); directories are never listed. Fetches of the configured
 * kernel/initrd (and of iPXE binaries over UEFI HTTP boot) move the node on.
 */
import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { realRoot, resolveConfined } from "../files/mod.ts";
import { clientIp, type HttpEnv } from "./context.ts";
import { contentTypeFor } from "./content_type.ts";
import { Stage } from "./deps.ts";
import { sendFile } from "./static_file.ts";
import { type HttpState, nodeForIp } from "./state.ts";

const log = getLogger(["mesh", "http"]);

/** Resolves a root's real path once it exists (it may be created after start). */
function lazyRoot(dir: string): () => Promise<string | null> {
  let real: string | null = null;
  return async () => {
    if (real !== null) return real;
    try {
      real = await realRoot(dir);
    } catch {
      return null;
    }
    return real;
  };
}

function stageFor(state: HttpState, urlPath: string): Stage | undefined {
  const { config } = state.deps;
  if (urlPath === config.kernelPath) return Stage.Kernel;
  if (urlPath === config.initrdPath) return Stage.Initrd;
  if (urlPath.startsWith("/boot/") && /\.(efi|kpxe|pxe)$/.test(urlPath)) return Stage.Firmware;
  return undefined;
}

async function answer(
  c: Context<HttpEnv>,
  state: HttpState,
  prefix: string,
  root: () => Promise<string | null>,
): Promise<Response> {
  const urlPath = new URL(c.req.url).pathname;
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.slice(prefix.length));
  } catch {
    return c.text("bad request\n", 400);
  }
  // a directory URL: never listed
  if (rel === "" || rel.endsWith("/")) return c.notFound();
  // Names starting with a dot are bookkeeping (the mirror's `.mesh/` state,
  // partial downloads), never content: not served.
  if (rel.split("/").some((part) => part.startsWith("."))) return c.notFound();
  const realDir = await root();
  if (realDir === null) return c.notFound();
  const found = await resolveConfined(realDir, rel);
  if (!found.ok) {
    if (found.reason === "invalid" || found.reason === "outside") {
      log.info("path refused", {
        path: urlPath,
        reason: found.reason,
        detail: found.detail,
        ip: clientIp(c) ?? null,
      });
      return c.text(
        found.reason === "invalid" ? "bad request\n" : "forbidden\n",
        found.reason === "invalid" ? 400 : 403,
      );
    }
    return c.notFound();
  }
  const sent = await sendFile(c.req.raw, {
    path: found.path,
    contentType: contentTypeFor(found.rel),
    ...(prefix === "/alpine/" ? { cacheControl: mirrorCacheControl(found.rel) } : {}),
  }, { cache: state.smallFiles, size: found.size, mtime: found.mtime });
  if (sent === null) return c.notFound();
  c.set("bytes", sent.bytes);
  const ip = clientIp(c);
  const nodeId = nodeForIp(state, ip);
  if (nodeId !== undefined) c.set("nodeId", nodeId);
  const stage = stageFor(state, urlPath);
  // one event per download: ranged retries and HEAD probes do not count
  // (only for a node: a download by an address that is no node records nothing)
  if (
    nodeId !== undefined && stage !== undefined && c.req.method === "GET" &&
    sent.response.status === 200
  ) {
    state.deps.registry.record({
      nodeId,
      ...(ip !== undefined ? { ip } : {}),
      stage,
      source: "http",
      detail: { path: urlPath },
      at: state.now(),
    });
  }
  return sent.response;
}

/**
 * A package's name carries its version, so its bytes never change: cached.
 * An index (and the netboot files) changes under the same name at the next
 * download: revalidated (ETag), so a node never pairs a new index with old packages.
 */
function mirrorCacheControl(rel: string): string {
  return rel.endsWith(".apk") ? "public, max-age=86400, immutable" : "no-cache";
}

export function mountStaticRoutes(app: Hono<HttpEnv>, state: HttpState): void {
  const { roots } = state.deps;
  const trees: [string, string | undefined][] = [
    ["/alpine/", roots.mirror],
    ["/boot/", roots.boot],
    ["/isos/", roots.isos],
  ];
  for (const [prefix, dir] of trees) {
    if (dir === undefined) continue;
    const root = lazyRoot(dir);
    app.get(`${prefix}*`, (c) => answer(c, state, prefix, root));
  }
}
