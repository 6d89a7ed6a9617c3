/**
 * @module
 * What makes the daemon rescan, and what it says about a scan: link changes
 * from netlink (only a port's carrier or admin state counts, after a quiet
 * time, since a cable being plugged in flaps), and one log line per segment
 * and per change.
 */
import { getLogger } from "@logtape/logtape";
import { LinkMonitor } from "../net/mod.ts";
import type { NetScan } from "./net_scan.ts";

const log = getLogger(["mesh", "net"]);

/** One line per segment, and one per change since the last map. */
export function logScan(scan: NetScan, why = "start"): void {
  log.info("network scanned", {
    why,
    ports: scan.ports.length,
    segments: scan.map.segments.length,
    ms: Math.round(scan.scan.durationMs),
    ignored: scan.scan.ignored,
  });
  for (const s of scan.map.segments) {
    log.info("segment", {
      id: s.id,
      interfaces: s.interfaces,
      link: s.link,
      subnet: s.subnet,
      mode: s.mode,
      served: s.served,
      reason: s.reason,
    });
  }
  for (const e of scan.map.events) log.info("network changed", { ...e });
}

/** Quiet time after a link change before the rescan (a cable plugged in flaps a few times). */
const LINK_SETTLE_MS = 500;

/**
 * Calls `changed` once a burst of carrier changes has settled. Address
 * changes (ours included) and other link messages do not count: only a
 * port's carrier or admin state going up or down changes the map.
 */
export function watchLinks(
  ports: NetScan["ports"],
  changed: () => void,
): { close(): void } {
  const state = new Map<string, boolean>(ports.map((p) => [p.name, p.carrier]));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const kick = () => {
    clearTimeout(timer);
    timer = setTimeout(changed, LINK_SETTLE_MS);
  };
  let monitor: LinkMonitor;
  try {
    monitor = new LinkMonitor((ev) => {
      if (ev.type === "overflow") return kick();
      if (ev.type !== "link") return;
      const up = !ev.removed && ev.link.up && ev.link.carrier;
      if (state.get(ev.link.name) === up) return;
      state.set(ev.link.name, up);
      kick();
    });
  } catch (e) {
    log.warn("link changes are not watched; SIGHUP rescans", { error: String(e) });
    return { close: () => {} };
  }
  return {
    close() {
      clearTimeout(timer);
      monitor.close();
    },
  };
}
