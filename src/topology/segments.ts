/**
 * @module
 * Which ports share a switch (pure). During a scan each port in turn
 * broadcasts RFC 5227 style ARP probes (sender IP 0.0.0.0, so no neighbour's
 * cache learns anything) whose target address is the port's marker, an
 * address of TEST-NET-3 (RFC 5737) that no real host uses. Every port
 * listens; a port that hears another port's marker is on the same segment.
 * Ports joined by sightings form one segment (union-find), and every other
 * sender heard is a neighbour. The I/O (sending, listening, timing) is
 * elsewhere; this file decides what a heard frame means and what the
 * sightings add up to.
 */
import { ArpOp, type ArpPacket } from "../arp/mod.ts";
import { formatMac, parseIpv4 } from "../wire/mod.ts";

/** TEST-NET-3, 203.0.113.0/24: the markers are 203.0.113.1, .2, ... per port. */
const MARKER_BASE = parseIpv4("203.0.113.0");
/** Ports one scan can tell apart by marker (203.0.113.1-254). */
export const MAX_SCAN_PORTS = 254;

/** A port taking part in the scan. */
export interface ScanPort {
  readonly name: string;
  /** Lower-case colon form, as `formatMac` writes it. */
  readonly mac: string;
  /**
   * This scan's secret for the port, sent as the probe's target hardware
   * address (which RFC 5227 receivers ignore). A host on one switch never
   * hears the probes of a port on another, so it cannot forge a probe that
   * would join the two; without a nonce, a copy of the probe from the port's
   * (guessable) MAC would do.
   */
  readonly nonce?: Uint8Array;
}

/** The marker (ARP target address) of the `index`-th port of a scan (0-based). */
export function markerAddress(index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SCAN_PORTS) {
    throw new RangeError(`a scan tells apart at most ${MAX_SCAN_PORTS} ports, not port ${index}`);
  }
  return MARKER_BASE + index + 1;
}

/** What one ARP frame heard on a port means for the scan. */
export type Heard =
  /** Our probe from port `from` (by its marker): the two ports share a segment. */
  | { readonly kind: "probe"; readonly from: string }
  /** Another host: a neighbour on this port's segment. */
  | { readonly kind: "neighbour"; readonly mac: string; readonly ip: number }
  /** Nothing to learn (counted by reason). */
  | { readonly kind: "ignored"; readonly reason: IgnoreReason };

export type IgnoreReason =
  /** Sent by one of our ports, but not a probe of this scan (another program, a forged copy). */
  | "own-mac"
  /** A marker target with a sender that is not the port owning that marker. */
  | "forged-marker"
  /** A probe (sender 0.0.0.0) of someone else: it names no address of theirs. */
  | "foreign-probe"
  /** Sender MAC broadcast, multicast or zero: not a host. */
  | "bad-sender"
  /** An ARP reply sent to one of our ports: the scan asks nothing that is answered. */
  | "unsolicited-reply";

/** Decides what frames heard during a scan mean; built once per scan. */
export class ScanListener {
  readonly #byMac = new Map<string, string>();
  readonly #byMarker = new Map<number, ScanPort & { readonly nonce?: Uint8Array }>();

  constructor(ports: readonly ScanPort[]) {
    ports.forEach((p, i) => {
      this.#byMac.set(p.mac.toLowerCase(), p.name);
      this.#byMarker.set(markerAddress(i), {
        name: p.name,
        mac: p.mac.toLowerCase(),
        ...(p.nonce ? { nonce: p.nonce } : {}),
      });
    });
  }

  /** Classifies `arp`, heard on port `on`. */
  hear(on: string, arp: ArpPacket): Heard {
    const sender = formatMac(arp.sha);
    const marked = this.#byMarker.get(arp.tpa);
    if (marked !== undefined && arp.spa === 0) {
      // Only the port that owns the marker sends it; anything else is a forgery or noise.
      if (
        marked.mac !== sender || formatMac(arp.ethSrc) !== sender ||
        (marked.nonce !== undefined && formatMac(arp.tha) !== formatMac(marked.nonce))
      ) {
        return { kind: "ignored", reason: "forged-marker" };
      }
      if (marked.name === on) return { kind: "ignored", reason: "own-mac" };
      return { kind: "probe", from: marked.name };
    }
    if (this.#byMac.has(sender)) return { kind: "ignored", reason: "own-mac" };
    if (!isHostMac(arp.sha)) return { kind: "ignored", reason: "bad-sender" };
    // A probe is never answered to its sender (RFC 5227 replies are broadcast),
    // so a reply addressed to us is forged or meant for another program.
    if (
      arp.op === ArpOp.reply &&
      (this.#byMac.has(formatMac(arp.ethDst)) || this.#byMac.has(formatMac(arp.tha)))
    ) {
      return { kind: "ignored", reason: "unsolicited-reply" };
    }
    if (arp.spa === 0) return { kind: "ignored", reason: "foreign-probe" };
    return { kind: "neighbour", mac: sender, ip: arp.spa };
  }
}

/** A unicast, non-zero MAC: something a host can have. */
function isHostMac(mac: Uint8Array): boolean {
  if ((mac[0]! & 1) === 1) return false; // group bit: broadcast or multicast
  return mac.some((b) => b !== 0);
}

/** Port `heardOn` heard the marker of port `from`. */
export interface Sighting {
  readonly heardOn: string;
  readonly from: string;
}

/** Ports that share a switch. */
export interface SegmentGroup {
  /** Stable across reboots: from the lowest member MAC. */
  readonly id: string;
  /** Member port names, sorted. */
  readonly interfaces: readonly string[];
}

/**
 * Groups ports by sightings (union-find; a sighting in one direction is
 * enough, since a lossy link may drop the other). A port that heard nobody
 * and was heard by nobody is a segment of its own. Sightings naming unknown
 * ports are ignored. Segments are sorted by id.
 */
export function groupSegments(
  ports: readonly ScanPort[],
  sightings: readonly Sighting[],
): SegmentGroup[] {
  const parent = new Map<string, string>(ports.map((p) => [p.name, p.name]));
  const find = (x: string): string => {
    let root = x;
    while (parent.get(root) !== root) root = parent.get(root)!;
    // Path compression: later finds are short.
    for (let y = x; y !== root;) {
      const next = parent.get(y)!;
      parent.set(y, root);
      y = next;
    }
    return root;
  };
  for (const s of sightings) {
    if (!parent.has(s.heardOn) || !parent.has(s.from)) continue;
    const a = find(s.heardOn);
    const b = find(s.from);
    if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
  }
  const members = new Map<string, ScanPort[]>();
  for (const p of ports) {
    const root = find(p.name);
    const list = members.get(root) ?? [];
    list.push(p);
    members.set(root, list);
  }
  return [...members.values()]
    .map((list) => ({
      id: segmentId(list.map((p) => p.mac)),
      interfaces: list.map((p) => p.name).sort(),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * A segment's id: "seg-" and its lowest member MAC without colons. A reboot
 * gives the same id, and so does adding a port with a higher MAC; only the
 * port with the lowest MAC leaving changes it (the subnet plan then holds
 * the old id's subnet for a while).
 */
export function segmentId(macs: readonly string[]): string {
  if (macs.length === 0) throw new RangeError("a segment has at least one port");
  const lowest = macs.map((m) => m.toLowerCase()).sort()[0]!;
  return `seg-${lowest.replaceAll(":", "")}`;
}
