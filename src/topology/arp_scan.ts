/**
 * @module
 * The ARP scan's I/O shell: one raw ARP socket per port, all listening in the
 * reactor while the ports take turns broadcasting their marker probes. What a
 * heard frame means is ScanListener's decision (segments.ts); this file only
 * sends, reads, counts and keeps time. Bounded by construction: the scan
 * lasts `ports × probes × intervalMs + settleMs` whatever arrives, and a
 * flood costs only the frames read (at most `drainBurst` per socket per turn,
 * so the timers of the schedule still run).
 */
import { arpProbe, decodeArpFrame, encodeArpFrame } from "../arp/mod.ts";
import { bpfArp, RawSocket, Reactor, type Registration } from "../net/mod.ts";
import { macToBytes } from "../wire/mod.ts";
import {
  groupSegments,
  type IgnoreReason,
  markerAddress,
  ScanListener,
  type ScanPort,
  type SegmentGroup,
  type Sighting,
} from "./segments.ts";

/** Timings and bounds of one scan; every field has a default. */
export interface ArpScanTimings {
  /** Probes each port sends (more ride out a lossy link). */
  readonly probes?: number;
  /** Milliseconds between two probes (of one port, and from one port to the next). */
  readonly intervalMs?: number;
  /** How long every port keeps listening after the last probe. */
  readonly settleMs?: number;
  /** Distinct neighbours kept; more are counted, not kept (a flood of made-up senders). */
  readonly maxNeighbours?: number;
}

export const SCAN_DEFAULTS = {
  probes: 3,
  intervalMs: 30,
  settleMs: 250,
  maxNeighbours: 4096,
} as const satisfies Required<ArpScanTimings>;

export interface ArpScanOptions extends ArpScanTimings {
  /** The ports to scan, with carrier; their order fixes their markers. */
  readonly ports: readonly ScanPort[];
  readonly signal?: AbortSignal;
  /** Called as each port starts its probes. */
  readonly onPort?: (port: string, index: number, total: number) => void;
  readonly reactor?: Reactor;
}

/** Another host heard during the scan. */
export interface Neighbour {
  readonly mac: string;
  readonly ip: number;
  readonly interface: string;
}

export type ScanIgnore = IgnoreReason | "malformed" | "not-arp" | "neighbour-limit";

export interface ArpScanResult {
  readonly ports: readonly ScanPort[];
  readonly sightings: readonly Sighting[];
  readonly groups: readonly SegmentGroup[];
  /** Distinct (interface, MAC, IP) triples, in the order first heard. */
  readonly neighbours: readonly Neighbour[];
  readonly frames: number;
  readonly probesSent: number;
  /** Probes the kernel refused (queue full, link gone), by port. */
  readonly sendFailures: Readonly<Record<string, number>>;
  readonly ignored: Readonly<Partial<Record<ScanIgnore, number>>>;
  /** Ports whose socket could not be opened, with the reason; they stand alone. */
  readonly unopened: Readonly<Record<string, string>>;
  readonly durationMs: number;
}

/** Frames read from one socket before the reactor serves others (and the timers). */
const DRAIN_BURST = 256;

/** Runs one scan over `opts.ports`. Resolves early (with what was heard) when the signal aborts. */
export async function arpScan(opts: ArpScanOptions): Promise<ArpScanResult> {
  const t = scanTimings(opts);
  const started = performance.now();
  // A fresh secret per port and scan (see ScanPort.nonce).
  const ports = opts.ports.map((p) => ({ ...p, nonce: crypto.getRandomValues(new Uint8Array(6)) }));
  const listener = new ScanListener(ports);
  const reactor = opts.reactor ?? Reactor.shared();
  const sightings = new Map<string, Sighting>();
  const neighbours = new Map<string, Neighbour>();
  const ignored: Partial<Record<ScanIgnore, number>> = {};
  const sendFailures: Record<string, number> = {};
  const unopened: Record<string, string> = {};
  const count = (r: ScanIgnore) => void (ignored[r] = (ignored[r] ?? 0) + 1);
  let frames = 0;
  let probesSent = 0;
  // An ARP frame is 42-60 bytes: anything longer is cut short and fails to decode as ARP anyway.
  const buf = new Uint8Array(2048);

  const heard = (port: string, frame: Uint8Array) => {
    frames++;
    let arp;
    try {
      arp = decodeArpFrame(frame);
    } catch {
      return count("malformed");
    }
    if (arp === null) return count("not-arp");
    const h = listener.hear(port, arp);
    if (h.kind === "ignored") return count(h.reason);
    if (h.kind === "probe") {
      sightings.set(`${port} ${h.from}`, { heardOn: port, from: h.from });
      return;
    }
    const key = `${port} ${h.mac} ${h.ip}`;
    if (neighbours.has(key)) return;
    if (neighbours.size >= t.maxNeighbours) return count("neighbour-limit");
    neighbours.set(key, { mac: h.mac, ip: h.ip, interface: port });
  };

  const open: { port: (typeof ports)[number]; sock: RawSocket; reg: Registration }[] = [];
  try {
    for (const port of ports) {
      let sock: RawSocket;
      try {
        sock = RawSocket.open(port.name, bpfArp(), { rcvbuf: 1 << 20 });
      } catch (e) {
        unopened[port.name] = (e as Error).message;
        continue;
      }
      const reg = reactor.add(sock, {
        ready: () => {
          for (let i = 0; i < DRAIN_BURST; i++) {
            const n = sock.recvInto(buf);
            if (n < 0) return;
            heard(port.name, buf.subarray(0, n));
          }
        },
        timeout: () => {},
      });
      open.push({ port, sock, reg });
    }
    for (const [i, { port, sock }] of open.entries()) {
      if (opts.signal?.aborted) break;
      opts.onPort?.(port.name, i, open.length);
      const index = ports.indexOf(port);
      const probe = arpProbe(macToBytes(port.mac), markerAddress(index));
      const frame = encodeArpFrame({ ...probe, tha: port.nonce }) as Uint8Array<ArrayBuffer>;
      for (let k = 0; k < t.probes && !opts.signal?.aborted; k++) {
        let sent = false;
        try {
          sent = sock.send(frame);
        } catch { /* the link went away mid-scan: counted like a full queue */ }
        if (sent) probesSent++;
        else sendFailures[port.name] = (sendFailures[port.name] ?? 0) + 1;
        await sleep(t.intervalMs, opts.signal);
      }
    }
    await sleep(t.settleMs, opts.signal);
  } finally {
    for (const o of open) o.reg.close();
  }
  const list = [...sightings.values()];
  return {
    ports: opts.ports,
    sightings: list,
    groups: groupSegments(opts.ports, list),
    neighbours: [...neighbours.values()],
    frames,
    probesSent,
    sendFailures,
    ignored,
    unopened,
    durationMs: performance.now() - started,
  };
}

/** `t` with every default filled in. */
export function scanTimings(t: ArpScanTimings): Required<ArpScanTimings> {
  return {
    probes: t.probes ?? SCAN_DEFAULTS.probes,
    intervalMs: t.intervalMs ?? SCAN_DEFAULTS.intervalMs,
    settleMs: t.settleMs ?? SCAN_DEFAULTS.settleMs,
    maxNeighbours: t.maxNeighbours ?? SCAN_DEFAULTS.maxNeighbours,
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
