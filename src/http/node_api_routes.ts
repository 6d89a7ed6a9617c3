/**
 * @module
 * The node API: the list and detail of nodes for the CLI, the status page and
 * scripts (they carry node UUIDs and MACs, so only for http.api_access:
 * management addresses or the bearer token), and the one write a booted node
 * makes itself, its online report, taken only from the address that is that
 * node (its lease, or in script mode the address that fetched its script).
 */
import { getLogger } from "@logtape/logtape";
import type { Context, Hono } from "hono";
import { isNodeId } from "../boot/mod.ts";
import { LogThrottle } from "../log.ts";
import { parseIpv4 } from "../wire/mod.ts";
import { Stage } from "../store/mod.ts";
import { clientIp, type HttpEnv } from "./context.ts";
import type { ApiAccess } from "./deps.ts";
import { type HttpState, nodeForIp } from "./state.ts";

const log = getLogger(["mesh", "http"]);
const throttle = new LogThrottle();

/** Page size of /api/v1/nodes when `limit` is not given, and its ceiling. */
export const NODE_PAGE = 100;
export const NODE_PAGE_MAX = 1000;

const LOOPBACK: ApiAccess = { mode: "management", management: [] };

function inNet(ip: number, [net, len]: readonly [number, number]): boolean {
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return ((ip & mask) >>> 0) === ((net & mask) >>> 0);
}

/** Compares without an early exit, so response time says nothing of the token. */
export function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Why this request may not use the management API, or null when it may. */
export function apiRefusal(c: Context<HttpEnv>, access: ApiAccess): string | null {
  if (access.mode === "any") return null;
  const auth = c.req.header("authorization");
  if (access.token !== undefined && auth !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return m !== null && sameToken(m[1]!, access.token) ? null : "bad bearer token";
  }
  const ip = clientIp(c);
  if (ip === undefined) return "client address unknown";
  if (ip === "::1") return null;
  let n: number;
  try {
    n = parseIpv4(ip);
  } catch {
    return "not a management address";
  }
  if (inNet(n, [0x7f000000, 8])) return null;
  return access.management.some((net) => inNet(n, net)) ? null : "not a management address";
}

function refuse(c: Context<HttpEnv>, what: string, why: string): Response {
  const ip = clientIp(c) ?? null;
  const t = throttle.take(`${what}:${ip}`);
  if (t.log) log.warn(`${what} refused`, { ip, reason: why, suppressed: t.suppressed });
  return c.json({ error: "forbidden", reason: why }, 403);
}

export function mountNodeApiRoutes(app: Hono<HttpEnv>, state: HttpState): void {
  const access = () => state.deps.config.apiAccess ?? LOOPBACK;
  const guard = (c: Context<HttpEnv>): Response | null => {
    const why = apiRefusal(c, access());
    if (why === null) return null;
    state.counters.apiRefusals++;
    return refuse(c, "api", why);
  };

  // GET /api/v1/nodes?limit=N&after=<id>: one page in id order, and the
  // cursor of the next page (null on the last one).
  app.get("/api/v1/nodes", (c) => {
    const no = guard(c);
    if (no !== null) return no;
    const limitText = c.req.query("limit");
    const limit = limitText === undefined ? NODE_PAGE : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > NODE_PAGE_MAX) {
      return c.json({ error: `limit must be 1-${NODE_PAGE_MAX}` }, 400);
    }
    const after = c.req.query("after") ?? "";
    const key = (n: { id: string | null; mac: string | null }) => n.id ?? `~${n.mac ?? ""}`;
    const all = state.deps.registry.list().filter((n) => after === "" || key(n) > after)
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const nodes = all.slice(0, limit);
    const next = all.length > limit ? key(nodes[nodes.length - 1]!) : null;
    return c.json({ nodes, next });
  });

  app.get("/api/v1/nodes/:id", (c) => {
    const no = guard(c);
    if (no !== null) return no;
    const id = c.req.param("id");
    const node = state.deps.registry.get(id);
    if (node === undefined) return c.json({ error: "node not found", id }, 404);
    if (node.id !== null) c.set("nodeId", node.id);
    return c.json(node);
  });

  // A booted node reports in (its overlay's local.d script, or the e2e init):
  // the last stage of a boot. GET as well as POST, because busybox wget in an
  // initramfs or a minimal overlay can only GET.
  const online = (c: Context<HttpEnv>) => {
    const id = c.req.query("id") ?? "";
    if (!isNodeId(id)) return c.json({ error: "id must be 8 lower-case hex characters" }, 400);
    const ip = clientIp(c);
    const self = nodeForIp(state, ip);
    if (self !== id && apiRefusal(c, access()) !== null) {
      state.counters.reportRefusals++;
      return refuse(
        c,
        "online report",
        self === undefined ? "address is no node" : "address is another node",
      );
    }
    c.set("nodeId", id);
    state.deps.registry.record({
      nodeId: id,
      ...(ip !== undefined ? { ip } : {}),
      stage: Stage.Online,
      source: "node",
      at: state.now(),
    });
    return c.body(null, 204);
  };
  app.get("/api/v1/report/online", online);
  app.post("/api/v1/report/online", online);
}
