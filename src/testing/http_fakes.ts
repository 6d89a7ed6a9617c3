/**
 * @module
 * Stand-ins for the HTTP service's ports (tests only): the real node
 * registry on an in-memory database, a boot catalog built from plain
 * objects, and a lease table.
 */
import type {
  BootCatalog,
  LeaseLookup,
  MachineEntry,
  NodeEvent,
  OverlayFile,
  Stage,
} from "../http/mod.ts";
import { NodeStore, openStore, type Store } from "../store/mod.ts";

/**
 * The real SQLite node registry (store/node_store.ts) on an in-memory
 * database, so HTTP tests see the same stage rules as the daemon. Events are
 * committed at once; `stagesSeen` lists a node's recorded stages in order.
 */
export class MemoryRegistry extends NodeStore {
  readonly #store: Store;
  constructor() {
    const store = openStore(":memory:");
    super(store.db, 0);
    this.#store = store;
  }
  override record(ev: NodeEvent): void {
    super.record(ev);
    this.flush();
  }
  /** Stages recorded for a node, in order, for assertions. */
  stagesSeen(id: string): Stage[] {
    return (this.get(id, 100_000)?.events ?? []).map((e) => e.stage as Stage);
  }
  override close(): void {
    super.close();
    this.#store.close();
  }
}

/** Catalog from plain maps: machines by node id, overlays by id or "default". */
export class MemoryCatalog implements BootCatalog {
  constructor(
    readonly machines: Map<string, { folder: string; cmdline?: string }> = new Map(),
    readonly overlays: Map<string, OverlayFile> = new Map(),
  ) {}

  machineFor(nodeId: string): MachineEntry {
    const m = this.machines.get(nodeId);
    if (m === undefined) return { folder: "default", id: "default" };
    return {
      folder: m.folder,
      id: nodeId,
      ...(m.cmdline !== undefined ? { cmdline: m.cmdline } : {}),
    };
  }

  overlayFor(nodeIdOrDefault: string): OverlayFile | undefined {
    return this.overlays.get(nodeIdOrDefault);
  }
}

/** Lease table: IP → MAC, and the option 97 UUID each MAC sent. */
export class MemoryLeases implements LeaseLookup {
  readonly byIp = new Map<string, string>();
  readonly uuids = new Map<string, string>();

  grant(ip: string, mac: string, uuid?: string): this {
    this.byIp.set(ip, mac);
    if (uuid !== undefined) this.uuids.set(mac, uuid);
    return this;
  }

  dhcpUuid(mac: string): string | undefined {
    return this.uuids.get(mac);
  }

  ipHoldsMac(ip: string, mac: string): boolean {
    return this.byIp.get(ip) === mac;
  }

  macForIp(ip: string): string | undefined {
    return this.byIp.get(ip);
  }
}
