/**
 * @module
 * What the daemon hands the HTTP app for /metrics: every DHCP service it
 * starts (full and proxy, kept by wrapping the starters ServedNet calls),
 * the TFTP server, the rogue guard's sightings, and the process itself
 * (RSS, event-loop delay). A DHCP service that stops (a rescan, a link
 * down) leaves its totals behind, so a counter never goes back while the
 * daemon runs.
 */
import type { PoolCounts } from "../dhcp/mod.ts";
import { Histogram, type MetricFamily, recordSamples, type StatusSources } from "../http/mod.ts";
import type { NetStore } from "../store/mod.ts";
import type { TftpServer } from "../tftp/mod.ts";
import type { dhcpStarters } from "./dhcp_wiring.ts";
import { dhcpFamilies, type DhcpSnapshot, tftpFamilies } from "./service_families.ts";

type DhcpStarters = ReturnType<typeof dhcpStarters>;
type Stats = { -readonly [K in keyof DhcpSnapshot]: DhcpSnapshot[K] };

/** Adds every number of `from` into `into` (same shape; records key by key). */
export function addNumbers(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    if (typeof v === "number") into[k] = (typeof into[k] === "number" ? into[k] as number : 0) + v;
    else if (v !== null && typeof v === "object" && !(v instanceof Map)) {
      if (into[k] === null || typeof into[k] !== "object") into[k] = {};
      addNumbers(into[k] as Record<string, unknown>, v as Record<string, unknown>);
    }
  }
}

interface Live {
  readonly labels: { interface: string; mode: string };
  snapshot(): Omit<DhcpSnapshot, "labels">;
}

/** Samples how late a 100 ms timer fires: the event loop's delay. */
class LoopDelay {
  readonly hist = new Histogram([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]);
  /** Largest delay of each of the last six 10 s windows, newest first. */
  readonly #windows = [0, 0, 0, 0, 0, 0];
  constructor(signal: AbortSignal, everyMs = 100) {
    let last = performance.now();
    let windowStart = last;
    const timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - last - everyMs) / 1000;
      last = now;
      this.hist.observe(late);
      if (now - windowStart >= 10_000) {
        this.#windows.pop();
        this.#windows.unshift(0);
        windowStart = now;
      }
      this.#windows[0] = Math.max(this.#windows[0]!, late);
    }, everyMs);
    Deno.unrefTimer(timer);
    signal.addEventListener("abort", () => clearInterval(timer), { once: true });
  }

  /** The largest delay of the last minute. */
  get max(): number {
    return Math.max(...this.#windows);
  }
}

export class ServiceMeters {
  readonly #live = new Set<Live>();
  /** Totals of stopped services, by "interface mode". */
  readonly #retired = new Map<string, { labels: Live["labels"]; stats: Stats }>();
  readonly #guard: Record<string, number> = {};
  readonly #loop: LoopDelay;
  #tftp: TftpServer | undefined;

  constructor(signal: AbortSignal) {
    this.#loop = new LoopDelay(signal);
  }

  /** The starters with their handles kept for /metrics. */
  wrap(starters: DhcpStarters): DhcpStarters {
    return {
      startDhcp: (s) => {
        const h = starters.startDhcp(s);
        const pools = () =>
          new Map<string, PoolCounts>(
            [...h.responder.pools].map(([seg, p]) => [seg, p.counts(Date.now())]),
          );
        return this.#keep(h, { interface: s.name, mode: "server" }, () => ({
          stats: h.stats(),
          pools: pools(),
        }));
      },
      startProxy: async (s) => {
        const h = await starters.startProxy(s);
        return this.#keep(h, { interface: s.name, mode: "proxy" }, () => {
          const st = h.stats();
          return { stats: st.dhcp, bootServer: st.bootServer };
        });
      },
    };
  }

  #keep<H extends { close(): Promise<void> }>(
    h: H,
    labels: Live["labels"],
    snapshot: Live["snapshot"],
  ): H {
    const live: Live = { labels, snapshot };
    this.#live.add(live);
    const close = h.close.bind(h);
    // Wrapped in place: ServedNet and the proxy unit call close() on the handle they got.
    h.close = async () => {
      if (this.#live.delete(live)) this.#retire(live);
      await close();
    };
    return h;
  }

  #retire(live: Live): void {
    const key = `${live.labels.interface} ${live.labels.mode}`;
    const snap = live.snapshot();
    const r = this.#retired.get(key);
    const counters = {
      stats: snap.stats,
      ...(snap.bootServer ? { bootServer: snap.bootServer } : {}),
    };
    if (r === undefined) {
      this.#retired.set(key, { labels: live.labels, stats: structuredClone(counters) as Stats });
    } else addNumbers(r.stats as unknown as Record<string, unknown>, counters);
  }

  setTftp(t: TftpServer): void {
    this.#tftp = t;
  }

  /** The rogue guard reported another DHCP server (and what mesh does about it). */
  noteGuard(action: string): void {
    this.#guard[action] = (this.#guard[action] ?? 0) + 1;
  }

  families(): MetricFamily[] {
    // Live and retired numbers of one interface and mode are added up into one series.
    const series = new Map<string, { labels: Live["labels"]; snap: Stats }>();
    for (const [key, r] of this.#retired) {
      series.set(key, { labels: r.labels, snap: structuredClone(r.stats) });
    }
    for (const l of this.#live) {
      const key = `${l.labels.interface} ${l.labels.mode}`;
      const snap = l.snapshot();
      const s = series.get(key);
      if (s === undefined) series.set(key, { labels: l.labels, snap: { ...snap } as Stats });
      else {
        const { pools, ...counters } = snap;
        addNumbers(s.snap as unknown as Record<string, unknown>, counters);
        if (pools) s.snap.pools = pools;
      }
    }
    const snaps: DhcpSnapshot[] = [...series.values()].map((s) => ({
      ...s.snap,
      labels: s.labels,
    }));
    const mem = Deno.memoryUsage();
    return [
      ...dhcpFamilies(snaps),
      {
        name: "mesh_dhcp_guard_events_total",
        help: "Other DHCP servers the rogue guard saw on served segments, by the action taken.",
        type: "counter",
        samples: recordSamples(this.#guard, "action"),
      },
      ...(this.#tftp ? tftpFamilies(this.#tftp.stats()) : []),
      {
        name: "process_resident_memory_bytes",
        help: "Resident memory of the daemon.",
        type: "gauge",
        samples: [{ value: mem.rss }],
      },
      {
        name: "mesh_process_heap_used_bytes",
        help: "JavaScript heap in use.",
        type: "gauge",
        samples: [{ value: mem.heapUsed }],
      },
      {
        name: "mesh_process_heap_total_bytes",
        help: "JavaScript heap reserved (in use and free).",
        type: "gauge",
        samples: [{ value: mem.heapTotal }],
      },
      {
        name: "mesh_process_external_bytes",
        help: "Memory outside the JavaScript heap held by its objects (buffers).",
        type: "gauge",
        samples: [{ value: mem.external }],
      },
      {
        name: "mesh_event_loop_delay_seconds",
        help: "How late a 100 ms timer fired: the event loop's delay, sampled 10 times a second.",
        type: "histogram",
        samples: this.#loop.hist.samples(),
      },
      {
        name: "mesh_event_loop_delay_max_seconds",
        help: "The largest event-loop delay of the last minute.",
        type: "gauge",
        samples: [{ value: this.#loop.max }],
      },
    ];
  }
}

/** The status page's and /metrics' view of the daemon: the stored network map and the meters. */
export function statusSources(net: NetStore, meters: ServiceMeters): StatusSources {
  return {
    segments: () => net.segments().map((s) => s.report),
    metrics: () => meters.families(),
  };
}
