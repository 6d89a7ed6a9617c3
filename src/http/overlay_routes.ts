/**
 * @module
 * `GET /apkovl/<id|MAC|UUID|default>.tar.gz`: the compiled overlay of a node,
 * or the default one for nodes without their own. A node's own overlay can
 * carry secrets, so it goes only to the address the access policy allows;
 * each refusal is logged and counted.
 */
import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { nodeIdFor } from "../boot/mod.ts";
import { clientIp, type HttpEnv } from "./context.ts";
import { Stage } from "./deps.ts";
import { parseOverlayName } from "./overlay_name.ts";
import { sendFile } from "./static_file.ts";
import { defaultOverlay, type HttpState, idForMac, macForId, nodeForIp } from "./state.ts";

const log = getLogger(["mesh", "http"]);

/** Why a node's own overlay may not go to this address, or null when it may. */
function refusal(
  state: HttpState,
  id: string,
  mac: string | undefined,
  ip: string | undefined,
): string | null {
  const policy = state.deps.config.overlayAccess;
  if (policy === "any") return null;
  if (ip === undefined) return "client address unknown";
  if (policy === "script") {
    return state.scriptByIp.get(ip) === id ? null : "address did not fetch this node's boot script";
  }
  if (mac !== undefined) {
    return state.deps.leases.ipHoldsMac(ip, mac)
      ? null
      : "address holds no lease for the node's MAC";
  }
  // MAC of the node not known yet: the lease of the address may still prove it
  const leased = state.deps.leases.macForIp(ip);
  return leased !== undefined && idForMac(state, leased) === id ? null : "MAC of the node unknown";
}

async function answer(c: Context<HttpEnv>, state: HttpState): Promise<Response> {
  const name = parseOverlayName(c.req.param("file") ?? "");
  if (name === null) return c.notFound();
  const ip = clientIp(c);
  let id: string | undefined;
  let mac: string | undefined;
  switch (name.kind) {
    case "default":
      break;
    case "id":
      id = name.id;
      mac = macForId(state, id);
      break;
    case "mac":
      mac = name.mac;
      id = idForMac(state, mac);
      break;
    case "uuid":
      id = nodeIdFor({ uuid: name.uuid }).id;
      mac = macForId(state, id);
      break;
    case "anonymous":
      // a zero UUID says nothing; the address may still tell us who it is
      id = nodeForIp(state, ip);
      mac = id === undefined ? undefined : macForId(state, id);
      break;
  }
  if (id !== undefined) c.set("nodeId", id);
  const own = id === undefined ? undefined : state.deps.catalog.overlayFor(id);
  let overlay = own;
  if (own !== undefined && id !== undefined) {
    const why = refusal(state, id, mac, ip);
    if (why !== null) {
      state.counters.overlayRefusals++;
      log.warn("overlay refused", {
        nodeId: id,
        ip: ip ?? null,
        mac: mac ?? null,
        reason: why,
        policy: state.deps.config.overlayAccess,
      });
      return c.json({ error: "forbidden", reason: why }, 403);
    }
  } else {
    overlay = defaultOverlay(state);
  }
  if (overlay === undefined) return c.notFound();
  const sent = await sendFile(c.req.raw, {
    path: overlay.path,
    contentType: "application/gzip",
    etag: overlay.etag,
    lastModified: false,
  });
  if (sent === null) return c.notFound();
  c.set("bytes", sent.bytes);
  if (id !== undefined && c.req.method === "GET" && sent.response.status < 300) {
    state.counters.overlays++;
    state.deps.registry.record({
      nodeId: id,
      ...(mac !== undefined ? { mac } : {}),
      ...(ip !== undefined ? { ip } : {}),
      stage: Stage.Apkovl,
      source: "http",
      detail: { overlay: own !== undefined ? id : "default" },
      at: state.now(),
    });
  }
  return sent.response;
}

export function mountOverlayRoutes(app: Hono<HttpEnv>, state: HttpState): void {
  app.get("/apkovl/:file", (c) => answer(c, state));
}
