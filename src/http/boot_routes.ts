/**
 * @module
 * `GET /boot.ipxe?mac=…&uuid=…` and the path forms `/boot.ipxe/<mac>` and
 * `/boot.ipxe/<mac>/<uuid>`: identify the node, remember who asked, render
 * its script. Only in-memory lookups, so it answers in well under a
 * millisecond whatever the number of nodes.
 */
import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { renderBootScript } from "../boot/mod.ts";
import { LogThrottle } from "../log.ts";
import type { HttpEnv } from "./context.ts";
import { clientIp } from "./context.ts";
import { Stage } from "./deps.ts";
import { type HttpState, whoIs } from "./state.ts";

const log = getLogger(["mesh", "http"]);
const throttle = new LogThrottle();

/** host[:port] as a client may send it: a DNS name or an IPv4 address, nothing else. */
const HOST_RE = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/;

/** The base URL of the boot script's links for this request. */
function scriptBase(c: Context<HttpEnv>, state: HttpState): string {
  const { config } = state.deps;
  const host = c.req.header("host");
  return config.baseFromHost && host !== undefined && HOST_RE.test(host)
    ? `http://${host}`
    : config.publicBase;
}

function answer(
  c: Context<HttpEnv>,
  state: HttpState,
  macText?: string,
  uuidText?: string,
): Response {
  const { registry, catalog, config } = state.deps;
  const ip = clientIp(c);
  // The query is a claim: the lease of the asking address decides (iPXE
  // leaves unset settings empty, which claims nothing).
  const who = whoIs(state, ip, { mac: macText, uuid: uuidText });
  if (who.ignored.length > 0) {
    const t = throttle.take(`claims:${ip}`);
    if (t.log) {
      log.warn("boot script claims ignored", {
        ip: ip ?? null,
        node: who.known ? who.nodeId : null,
        ignored: who.ignored,
        suppressed: t.suppressed,
      });
    }
  }
  const nodeId = who.known ? who.nodeId : null;
  const machine = nodeId === null
    ? { folder: "default", id: "default" }
    : catalog.machineFor(nodeId);
  // a HEAD probe is not a boot step
  if (who.known && c.req.method === "GET") {
    c.set("nodeId", who.nodeId);
    if (ip !== undefined) state.scriptByIp.set(ip, who.nodeId);
    // Node records only for MACs our DHCP server has seen: a lease says so;
    // without leases (another DHCP server), a MAC with a history of ours.
    if (config.overlayAccess === "lease" || registry.knowsMac(who.mac)) {
      registry.record({
        nodeId: who.nodeId,
        mac: who.mac,
        ...(who.uuid !== null ? { uuid: who.uuid } : {}),
        ...(ip !== undefined ? { ip } : {}),
        stage: Stage.Script,
        source: "http",
        machine: machine.folder,
        at: state.now(),
      });
    }
  }
  state.counters.scripts++;
  const script = renderBootScript({
    nodeId,
    machine: machine.folder,
    base: scriptBase(c, state),
    kernelPath: config.kernelPath,
    initrdPath: config.initrdPath,
    modloopPath: config.modloopPath,
    repoPath: config.repoPath,
    ...(machine.cmdline !== undefined ? { machineCmdline: machine.cmdline } : {}),
    ...(config.extraCmdline !== undefined ? { extraCmdline: config.extraCmdline } : {}),
  });
  const body = new TextEncoder().encode(script);
  c.set("bytes", body.length);
  return c.body(body, 200, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": String(body.length),
    "cache-control": "no-store",
  });
}

export function mountBootRoutes(app: Hono<HttpEnv>, state: HttpState): void {
  app.get("/boot.ipxe", (c) => answer(c, state, c.req.query("mac"), c.req.query("uuid")));
  app.get("/boot.ipxe/:mac", (c) => answer(c, state, c.req.param("mac")));
  app.get(
    "/boot.ipxe/:mac/:uuid",
    (c) => answer(c, state, c.req.param("mac"), c.req.param("uuid")),
  );
}
