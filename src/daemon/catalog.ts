/**
 * @module
 * The boot catalog the HTTP service reads: which machine folder and overlay a
 * node id gets. Built from the loaded /host0 and the compiled overlay index;
 * a reload swaps the whole snapshot at once, so a request never sees half of
 * an old and half of a new /host0.
 */
import type { Host0 } from "../config/mod.ts";
import type { BootCatalog, MachineEntry, OverlayFile, OverlayIndex } from "../http/mod.ts";

interface Snapshot {
  readonly machines: ReadonlyMap<string, MachineEntry>;
  readonly overlays: OverlayIndex;
}

function snapshot(host0: Host0, overlays: OverlayIndex): Snapshot {
  const machines = new Map<string, MachineEntry>();
  for (const m of host0.machines) {
    if (m.skip) continue;
    machines.set(m.id, {
      folder: m.folder,
      id: m.id,
      ...(m.cmdline !== undefined ? { cmdline: m.cmdline } : {}),
    });
  }
  return { machines, overlays };
}

/** A BootCatalog whose contents can be replaced atomically. */
export class SwappableCatalog implements BootCatalog {
  #current: Snapshot;
  constructor(host0: Host0, overlays: OverlayIndex) {
    this.#current = snapshot(host0, overlays);
  }
  /** Replaces everything the catalog knows (after a successful recompile). */
  swap(host0: Host0, overlays: OverlayIndex): void {
    this.#current = snapshot(host0, overlays);
  }
  machineFor(nodeId: string): MachineEntry {
    const s = this.#current;
    return s.machines.get(nodeId) ?? s.machines.get("default") ??
      { folder: "default", id: "default" };
  }
  overlayFor(nodeIdOrDefault: string): OverlayFile | undefined {
    const s = this.#current;
    return s.overlays.get(nodeIdOrDefault) ?? s.overlays.get("default");
  }
  /** Number of machines with a folder of their own (for logs). */
  get size(): number {
    return this.#current.machines.size;
  }
}
