/**
 * @module
 * Per-app memory the routes share (which address fetched which node's boot
 * script: proxy mode has no leases; bounded), and the one answer to "which
 * node does this request speak for" (src/boot/identity.ts decides).
 */
import { identify, type Identity, type IdentityClaim } from "../boot/mod.ts";
import type { AppDeps, OverlayFile } from "./deps.ts";
import { RouteCounter } from "./http_metrics.ts";
import { BoundedMap } from "./lru.ts";
import type { CachedFile } from "./static_file.ts";

/** Enough for the biggest cluster we aim at, with room for address churn. */
export const MAP_CAPACITY = 65_536;
/** Small files kept in memory: 2048 × 16 KiB = 32 MiB at most. */
export const SMALL_FILES = 2048;

export interface Counters {
  requests: number;
  bytes: number;
  scripts: number;
  overlays: number;
  overlayRefusals: number;
  /** Requests whose mac/uuid claims were ignored (they contradicted the lease or a binding). */
  claimsIgnored: number;
  /** Node reports refused (not from the node's address). */
  reportRefusals: number;
  /** API requests refused by http.api_access. */
  apiRefusals: number;
  /** Status page and live stream requests refused by http.status_page. */
  statusRefusals: number;
  notFound: number;
  errors: number;
}

export interface HttpState {
  readonly deps: AppDeps;
  readonly now: () => number;
  /** Client IP → node id whose boot script it fetched. */
  readonly scriptByIp: BoundedMap<string, string>;
  /** Small static files by real path (at most SMALL_FILES × 16 KiB). */
  readonly smallFiles: BoundedMap<string, CachedFile>;
  readonly counters: Counters;
  /** Requests by route pattern and status, for /metrics. */
  readonly routes: RouteCounter;
}

export function createState(deps: AppDeps): HttpState {
  return {
    deps,
    now: deps.clock ?? Date.now,
    scriptByIp: new BoundedMap(MAP_CAPACITY),
    smallFiles: new BoundedMap(SMALL_FILES),
    counters: {
      requests: 0,
      bytes: 0,
      scripts: 0,
      overlays: 0,
      overlayRefusals: 0,
      claimsIgnored: 0,
      reportRefusals: 0,
      apiRefusals: 0,
      statusRefusals: 0,
      notFound: 0,
      errors: 0,
    },
    routes: new RouteCounter(),
  };
}

/**
 * The node a request from `ip` speaks for. With `overlay_access: lease` the
 * lease of the address decides and `claim` (a boot script's query) only
 * picks among what the lease allows; otherwise the claim is taken, each
 * node id staying bound to the first MAC that claimed it.
 */
export function whoIs(
  state: HttpState,
  ip: string | undefined,
  claim: IdentityClaim = {},
): Identity {
  const { leases, registry, config } = state.deps;
  const leaseMac = ip === undefined ? undefined : leases.macForIp(ip);
  const identity = identify(
    {
      leaseMac,
      dhcpUuid: leaseMac === undefined ? undefined : leases.dhcpUuid(leaseMac),
      boundMac: (id) => registry.boundMac(id),
      nodeOfMac: (mac) => registry.nodeOfMac(mac),
    },
    claim,
    config.overlayAccess === "lease" ? "lease" : "claim",
  );
  if (identity.ignored.length > 0) state.counters.claimsIgnored++;
  return identity;
}

/** The node behind a client address, when we can tell (no claims). */
export function nodeForIp(state: HttpState, ip: string | undefined): string | undefined {
  if (ip === undefined) return undefined;
  if (state.deps.config.overlayAccess !== "lease") {
    const byScript = state.scriptByIp.get(ip);
    if (byScript !== undefined) return byScript;
  }
  const who = whoIs(state, ip);
  return who.known ? who.nodeId : undefined;
}

/** The default overlay, if one is compiled. */
export function defaultOverlay(state: HttpState): OverlayFile | undefined {
  return state.deps.catalog.overlayFor("default");
}
