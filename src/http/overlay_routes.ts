/**
 * @module
 * `GET /apkovl/<id|MAC|UUID|default>.tar.gz`: the compiled overlay of a node,
 * or the default one for nodes without their own. A node's own overlay can
 * carry secrets, so it goes only to the address the access policy allows
 * (with "lease": to the node the address's lease identifies, whichever form
 * the URL names it by); each refusal is logged (throttled) and counted.
 */
import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { nodeIdFor } from "../boot/mod.ts";
import { LogThrottle } from "../log.ts";
import { clientIp, type HttpEnv } from "./context.ts";
import { Stage } from "./deps.ts";
import { type OverlayName, parseOverlayName } from "./overlay_name.ts";
import { sendFile } from "./static_file.ts";
import { defaultOverlay, type HttpState, nodeForIp, whoIs } from "./state.ts";

const log = getLogger(["mesh", "http"]);
const throttle = new LogThrottle();

/** Why node `id`'s own overlay may not go to this address, or null when it may. */
function refusal(state: HttpState, id: string, ip: string | undefined): string | null {
  const policy = state.deps.config.overlayAccess;
  if (policy === "any") return null;
  if (ip === undefined) return "client address unknown";
  if (policy === "script") {
    return state.scriptByIp.get(ip) === id ? null : "address did not fetch this node's boot script";
  }
  // "lease": only the node the address's lease identifies, whatever the URL names
  const who = whoIs(state, ip);
  if (!who.known) return who.reason;
  return who.nodeId === id ? null : "address holds the lease of another node";
}

/** The node an overlay name stands for; a MAC or UUID means the node bound to it. */
function namedNode(
  state: HttpState,
  name: Exclude<OverlayName, { kind: "default" }>,
  ip: string | undefined,
): string | undefined {
  switch (name.kind) {
    case "id":
      return name.id;
    case "mac":
      return state.deps.registry.nodeOfMac(name.mac) ?? nodeIdFor({ mac: name.mac }).id;
    case "uuid":
      return nodeIdFor({ uuid: name.uuid }).id;
    case "anonymous":
      // a zero UUID says nothing; the address may still tell who it is
      return nodeForIp(state, ip);
  }
}

async function answer(c: Context<HttpEnv>, state: HttpState): Promise<Response> {
  const name = parseOverlayName(c.req.param("file") ?? "");
  if (name === null) return c.notFound();
  const ip = clientIp(c);
  const id = name.kind === "default" ? undefined : namedNode(state, name, ip);
  if (id !== undefined) c.set("nodeId", id);
  const own = id === undefined ? undefined : state.deps.catalog.overlayFor(id);
  let overlay = own;
  if (own !== undefined && id !== undefined) {
    const why = refusal(state, id, ip);
    if (why !== null) {
      state.counters.overlayRefusals++;
      const t = throttle.take(`overlay:${ip}`);
      if (t.log) {
        log.warn("overlay refused", {
          nodeId: id,
          ip: ip ?? null,
          reason: why,
          policy: state.deps.config.overlayAccess,
          suppressed: t.suppressed,
        });
      }
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
  // recorded for the node the address is (the default overlay named by id is no proof)
  const who = id === undefined ? undefined : nodeForIp(state, ip);
  if (who !== undefined && who === id && c.req.method === "GET" && sent.response.status < 300) {
    state.counters.overlays++;
    state.deps.registry.record({
      nodeId: id,
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
