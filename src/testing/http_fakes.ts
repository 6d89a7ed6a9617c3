/**
 * @module
 * In-memory stand-ins for the HTTP service's ports (tests only): a node
 * registry that keeps every event, a boot catalog built from plain objects,
 * and a lease table.
 */
import {
  type BootCatalog,
  type LeaseLookup,
  type MachineEntry,
  type NodeDetail,
  type NodeEvent,
  type NodeEventView,
  type NodeRegistry,
  type NodeSummary,
  type OverlayFile,
  type Stage,
  STAGE_ORDER,
} from "../http/mod.ts";

/** Stage rank in boot order. */
function rank(stage: Stage): number {
  return STAGE_ORDER.indexOf(stage);
}

interface Row {
  id: string;
  mac: string | null;
  uuid: string | null;
  ip: string | null;
  machine: string | null;
  stage: Stage;
  firstSeen: number;
  lastSeen: number;
  stages: Partial<Record<Stage, number>>;
  events: NodeEventView[];
}

/**
 * Same stage rules as the SQLite registry: `discovered` starts a new boot,
 * anything else only moves forward. `events` holds every recorded event, also
 * anonymous ones, for assertions.
 */
export class MemoryRegistry implements NodeRegistry {
  readonly events: NodeEvent[] = [];
  readonly #rows = new Map<string, Row>();

  record(ev: NodeEvent): void {
    this.events.push(ev);
    if (ev.nodeId === undefined) return;
    let row = this.#rows.get(ev.nodeId);
    if (row === undefined) {
      row = {
        id: ev.nodeId,
        mac: null,
        uuid: null,
        ip: null,
        machine: null,
        stage: ev.stage,
        firstSeen: ev.at,
        lastSeen: ev.at,
        stages: {},
        events: [],
      };
      this.#rows.set(ev.nodeId, row);
    }
    if (ev.mac !== undefined) row.mac = ev.mac;
    if (ev.uuid !== undefined) row.uuid = ev.uuid;
    if (ev.ip !== undefined) row.ip = ev.ip;
    if (ev.machine !== undefined) row.machine = ev.machine;
    row.lastSeen = Math.max(row.lastSeen, ev.at);
    if (ev.stage === "discovered") {
      row.stage = ev.stage;
      row.stages = {};
    } else if (rank(ev.stage) > rank(row.stage)) {
      row.stage = ev.stage;
    }
    row.stages[ev.stage] = ev.at;
    row.events.push({
      at: ev.at,
      stage: ev.stage,
      source: ev.source,
      ip: ev.ip ?? null,
      detail: ev.detail ?? null,
    });
  }

  #summary(r: Row): NodeSummary {
    return {
      id: r.id,
      mac: r.mac,
      uuid: r.uuid,
      ip: r.ip,
      machine: r.machine,
      stage: r.stage,
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      stages: { ...r.stages },
    };
  }

  list(): NodeSummary[] {
    return [...this.#rows.values()].map((r) => this.#summary(r));
  }

  get(id: string): NodeDetail | undefined {
    const r = this.#rows.get(id);
    return r === undefined ? undefined : { ...this.#summary(r), events: [...r.events] };
  }

  /** Stages recorded for a node, in order, for assertions. */
  stagesSeen(id: string): Stage[] {
    return this.events.filter((e) => e.nodeId === id).map((e) => e.stage);
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

/** Lease table: IP → MAC. */
export class MemoryLeases implements LeaseLookup {
  readonly byIp = new Map<string, string>();

  grant(ip: string, mac: string): this {
    this.byIp.set(ip, mac);
    return this;
  }

  ipHoldsMac(ip: string, mac: string): boolean {
    return this.byIp.get(ip) === mac;
  }

  macForIp(ip: string): string | undefined {
    return this.byIp.get(ip);
  }
}
