/**
 * @module
 * Ports of the HTTP service: what it needs from the rest of the daemon. The
 * daemon passes real adapters (SQLite registry, /host0 catalog, DHCP leases);
 * tests pass the in-memory fakes from src/testing/http_fakes.ts.
 */

import type { NodeDetail, NodeEvent, NodeSummary } from "../store/mod.ts";
import type { MetricFamily } from "./metrics_text.ts";

// One vocabulary for the whole daemon: the store's stages and node records,
// so the SQLite registry (src/store NodeStore) is a NodeRegistry as it is.
export { isStage, Stage, stageRank, STAGES as STAGE_ORDER } from "../store/mod.ts";
export type {
  EventSource,
  NodeDetail,
  NodeEvent,
  NodeEventView,
  NodeSummary,
} from "../store/mod.ts";

/** Node inventory. `record` is synchronous and cheap (the real one batches). */
export interface NodeRegistry {
  record(ev: NodeEvent): void;
  list(): NodeSummary[];
  /** By node id (the SQLite registry also accepts a MAC). */
  get(id: string): NodeDetail | undefined;
  /** The MAC a node id is bound to: the first MAC recorded with it. */
  boundMac(nodeId: string): string | undefined;
  /** The node id most recently recorded with a MAC. */
  nodeOfMac(mac: string): string | undefined;
  /** True when any event was recorded for this MAC (our DHCP server saw it). */
  knowsMac(mac: string): boolean;
  /** One row of `list()`: by node id, or by MAC (also one not identified yet). */
  summary(idOrMac: string): NodeSummary | undefined;
  /** Calls `fn` with each batch of events once committed; returns the unsubscribe. */
  watch(fn: (events: readonly NodeEvent[]) => void): () => void;
}

/** The machine a node boots as. */
export interface MachineEntry {
  /** Machine folder, or "default". */
  readonly folder: string;
  /** "default" or the node id. */
  readonly id: string;
  /** Extra kernel arguments for this machine. */
  readonly cmdline?: string;
}

/** A compiled overlay on disk. */
export interface OverlayFile {
  readonly path: string;
  readonly size: number;
  readonly etag: string;
}

/** What the daemon knows from /host0; swapped atomically on reload. */
export interface BootCatalog {
  machineFor(nodeId: string): MachineEntry;
  /** The overlay of a node id or of "default"; undefined when none is compiled. */
  overlayFor(nodeIdOrDefault: string): OverlayFile | undefined;
}

/** DHCP leases (server mode): what our DHCP server saw. */
export interface LeaseLookup {
  ipHoldsMac(ip: string, mac: string): boolean;
  macForIp(ip: string): string | undefined;
  /** The SMBIOS UUID a MAC sent in option 97 when it asked us for an address. */
  dhcpUuid(mac: string): string | undefined;
}

/**
 * Who may fetch a node's own overlay, and how a request is tied to a node:
 * "lease" (server mode): the address our DHCP server leased to the node's
 * MAC, identity from the lease; "script" (another DHCP server hands out the
 * addresses): the address that fetched the node's boot script, identity from
 * the script's query, each node id bound to the first MAC that claimed it;
 * "any": anyone (a lab). The default overlay is public.
 */
export type OverlayAccess = "lease" | "script" | "any";

/**
 * Who may read the node list and use the management API: addresses in
 * `management` (CIDRs; loopback always), and anyone with the bearer token.
 * "any" opens it to every address (a lab). A node's own report is separate:
 * it is taken from the address that holds that node's lease.
 */
export interface ApiAccess {
  readonly mode: "management" | "any";
  /** IPv4 networks as [network, prefix length]. */
  readonly management: readonly (readonly [number, number])[];
  readonly token?: string;
}

export interface HttpConfig {
  /** Base URL nodes use, e.g. "http://10.11.0.1" or "http://10.11.0.1:8080". */
  readonly publicBase: string;
  /**
   * Build the script's URLs from the request's Host header (what the node
   * itself used to reach us) instead of `publicBase`. On for a central node
   * that serves several segments, each reaching it at another address;
   * `publicBase` is then only the fallback for a request without Host.
   */
  readonly baseFromHost?: boolean;
  readonly alpineBranch: string;
  /** URL paths under publicBase. */
  readonly kernelPath: string;
  readonly initrdPath: string;
  readonly modloopPath: string;
  readonly repoPath: string;
  readonly extraCmdline?: string;
  readonly overlayAccess: OverlayAccess;
  /** Default: management from loopback only, no token. */
  readonly apiAccess?: ApiAccess;
  /** Who sees the status page and its live stream; default "on". */
  readonly statusPage?: StatusPageAccess;
}

/**
 * `http.status_page`: "on" shows the page to whoever may use the node API
 * (it shows node identities), "token" only to a holder of the bearer token,
 * "off" serves no page.
 */
export type StatusPageAccess = "on" | "off" | "token";

/** What the status page and /metrics read from the rest of the daemon. */
export interface StatusSources {
  /**
   * The segments of the network map: each the JSON `mesh net show` prints
   * (topology SegmentReport). Read defensively: it comes from the database.
   */
  segments(): readonly unknown[];
  /** Metric families of the other services (DHCP, TFTP, process), for /metrics. */
  metrics?(): readonly MetricFamily[];
}

/** Directories served as static trees. */
export interface HttpRoots {
  /** Served at /alpine/ (the offline mirror). */
  readonly mirror: string;
  /** Served at /boot/ (kernels, initramfs, modloop, iPXE binaries). */
  readonly boot: string;
  /** Served at /isos/ when set. */
  readonly isos?: string;
}

export interface AppDeps {
  readonly registry: NodeRegistry;
  readonly catalog: BootCatalog;
  readonly leases: LeaseLookup;
  readonly config: HttpConfig;
  readonly roots: HttpRoots;
  /** Unix ms; Date.now by default. */
  readonly clock?: () => number;
  /** Segments and service metrics; without them the page shows nodes only. */
  readonly status?: StatusSources;
  /** Ends the live streams (the daemon stops: open SSE responses must not hold it up). */
  readonly signal?: AbortSignal;
}
