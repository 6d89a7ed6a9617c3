/**
 * @module
 * Per-app memory the routes share: which address fetched which node's boot
 * script (proxy mode has no leases), and the MAC/id pairs learned from boot
 * script requests. All maps are bounded.
 */
import { nodeIdFor } from "../boot/mod.ts";
import type { AppDeps, OverlayFile } from "./deps.ts";
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
  notFound: number;
  errors: number;
}

export interface HttpState {
  readonly deps: AppDeps;
  readonly now: () => number;
  /** Client IP → node id whose boot script it fetched. */
  readonly scriptByIp: BoundedMap<string, string>;
  readonly idByMac: BoundedMap<string, string>;
  readonly macById: BoundedMap<string, string>;
  /** Small static files by real path (at most SMALL_FILES × 16 KiB). */
  readonly smallFiles: BoundedMap<string, CachedFile>;
  readonly counters: Counters;
}

export function createState(deps: AppDeps): HttpState {
  return {
    deps,
    now: deps.clock ?? Date.now,
    scriptByIp: new BoundedMap(MAP_CAPACITY),
    idByMac: new BoundedMap(MAP_CAPACITY),
    macById: new BoundedMap(MAP_CAPACITY),
    smallFiles: new BoundedMap(SMALL_FILES),
    counters: {
      requests: 0,
      bytes: 0,
      scripts: 0,
      overlays: 0,
      overlayRefusals: 0,
      notFound: 0,
      errors: 0,
    },
  };
}

/** Node id for a MAC: learned from its boot script request, else the MAC rule. */
export function idForMac(state: HttpState, mac: string): string {
  return state.idByMac.get(mac) ?? nodeIdFor({ mac }).id;
}

/** Known MAC of a node id (boot script request, then the registry). */
export function macForId(state: HttpState, id: string): string | undefined {
  return state.macById.get(id) ?? state.deps.registry.get(id)?.mac ?? undefined;
}

/** The node behind a client address, when we can tell. */
export function nodeForIp(state: HttpState, ip: string | undefined): string | undefined {
  if (ip === undefined) return undefined;
  const byScript = state.scriptByIp.get(ip);
  if (byScript !== undefined) return byScript;
  const mac = state.deps.leases.macForIp(ip);
  return mac === undefined ? undefined : idForMac(state, mac);
}

/** The default overlay, if one is compiled. */
export function defaultOverlay(state: HttpState): OverlayFile | undefined {
  return state.deps.catalog.overlayFor("default");
}
