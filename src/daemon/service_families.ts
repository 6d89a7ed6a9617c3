/**
 * @module
 * The DHCP and TFTP servers' counters as Prometheus families. Labels are
 * bounded: the interface (one per port), the message type, the decision,
 * the ignore reason's shape (digits folded, at most 64 per server), a TFTP
 * error code or failure class. No MAC, address or node id is a label.
 */
import type { DhcpServerStats, PoolCounts } from "../dhcp/mod.ts";
import { type Labels, type MetricFamily, recordSamples, type Sample } from "../http/mod.ts";
import type { TftpCounters } from "../tftp/mod.ts";

/** One DHCP server's numbers: full DHCP (port 67) or a proxy (67 and 4011). */
export interface DhcpSnapshot {
  readonly labels: Labels;
  readonly stats: DhcpServerStats;
  /** The proxy's boot server on 4011. */
  readonly bootServer?: {
    readonly received: number;
    readonly replied: number;
    readonly ignored: number;
    readonly malformed: number;
  };
  /** Pools by segment (full DHCP only). */
  readonly pools?: ReadonlyMap<string, PoolCounts>;
}

type Acc = Map<string, { help: string; type: "counter" | "gauge"; samples: Sample[] }>;

function add(acc: Acc, name: string, help: string, samples: Sample[], type: "counter" | "gauge") {
  const f = acc.get(name) ?? { help, type, samples: [] };
  f.samples.push(...samples);
  acc.set(name, f);
}

export function dhcpFamilies(snaps: readonly DhcpSnapshot[]): MetricFamily[] {
  const acc: Acc = new Map();
  const c = (name: string, help: string, samples: Sample[]) =>
    add(acc, name, help, samples, "counter");
  // The families exist even before a segment is served, so a dashboard finds them.
  c("mesh_dhcp_received_total", "DHCP requests received on port 67.", []);
  c("mesh_dhcp_decisions_total", "Responder decisions, by request type and decision.", []);
  for (const { labels: l, stats: s, bootServer, pools } of snaps) {
    c("mesh_dhcp_received_total", "DHCP requests received on port 67.", [{
      labels: l,
      value: s.received,
    }]);
    c(
      "mesh_dhcp_decisions_total",
      "Responder decisions, by request type and decision.",
      Object.entries(s.decisions).map(([key, value]) => {
        const [type = "?", decision = "?"] = key.split(" ");
        return { labels: { ...l, type, decision }, value };
      }),
    );
    c("mesh_dhcp_replies_total", "Replies the kernel took, by message type.", [
      { labels: { ...l, type: "OFFER" }, value: s.offers },
      { labels: { ...l, type: "ACK" }, value: s.acks },
      { labels: { ...l, type: "NAK" }, value: s.naks },
    ]);
    c(
      "mesh_dhcp_ignored_total",
      "Requests left unanswered, by reason (digits folded to #).",
      recordSamples(s.ignoreReasons, "reason", l),
    );
    const d = s.dropped;
    c(
      "mesh_dhcp_dropped_total",
      "Requests dropped before or after the responder, by why.",
      [
        ["rate_limited", d.rateLimited],
        ["pool_exhausted", d.poolExhausted],
        ["not_durable", d.notDurable],
        ["send_failure", d.sendFailures],
        ["error", d.errors],
      ].map(([why, value]) => ({ labels: { ...l, why: String(why) }, value: Number(value) })),
    );
    c(
      "mesh_dhcp_send_retries_total",
      "Replies sent again because the kernel's queue was full (a reply lost after them is a send_failure drop).",
      [{ labels: l, value: s.sendRetries }],
    );
    c("mesh_dhcp_lease_commits_total", "Lease changes committed to the database.", [{
      labels: l,
      value: s.commits,
    }]);
    c("mesh_dhcp_probes_total", "ARP probes of an address before offering it.", [{
      labels: l,
      value: s.probes,
    }]);
    c("mesh_dhcp_probe_conflicts_total", "Probed addresses found in use.", [{
      labels: l,
      value: s.conflicts,
    }]);
    c("mesh_decode_errors_total", "Datagrams or requests that could not be decoded, by protocol.", [
      { labels: { ...l, protocol: "dhcp" }, value: d.malformed + d.badFrames },
    ]);
    if (bootServer) {
      c("mesh_dhcp_boot_server_total", "Port 4011 (PXE boot server) requests, by outcome.", [
        { labels: { ...l, outcome: "received" }, value: bootServer.received },
        { labels: { ...l, outcome: "replied" }, value: bootServer.replied },
        { labels: { ...l, outcome: "ignored" }, value: bootServer.ignored },
      ]);
      c("mesh_decode_errors_total", "", [{
        labels: { ...l, protocol: "dhcp_4011" },
        value: bootServer.malformed,
      }]);
    }
    for (const [pool, n] of pools ?? []) {
      add(
        acc,
        "mesh_dhcp_leases",
        "Addresses of each pool's dynamic range, by state (free: neither bound, offered nor declined).",
        (["bound", "offered", "declined", "free"] as const).map((state) => ({
          labels: { ...l, pool, state },
          value: n[state],
        })),
        "gauge",
      );
    }
  }
  return [...acc].map(([name, f]) => ({ name, ...f }));
}

export function tftpFamilies(t: TftpCounters): MetricFamily[] {
  const counter = (name: string, help: string, samples: Sample[]): MetricFamily => ({
    name,
    help,
    type: "counter",
    samples,
  });
  return [
    counter("mesh_tftp_requests_total", "TFTP read requests (refused ones too).", [{
      value: t.requests,
    }]),
    counter("mesh_tftp_transfers_total", "TFTP transfers ended, by result.", [
      { labels: { result: "completed" }, value: t.completed },
      { labels: { result: "failed" }, value: t.failed },
      { labels: { result: "size_probe" }, value: t.sizeProbes },
    ]),
    counter("mesh_tftp_refused_total", "Requests answered with an ERROR.", [{ value: t.refused }]),
    counter("mesh_tftp_bytes_total", "Bytes acknowledged by TFTP clients.", [{ value: t.bytes }]),
    counter("mesh_tftp_retransmits_total", "TFTP blocks sent again.", [{ value: t.retransmits }]),
    counter(
      "mesh_tftp_errors_sent_total",
      "TFTP ERROR packets sent for refusals and at shutdown, by error code.",
      recordSamples(t.errorsSent, "code"),
    ),
    counter(
      "mesh_tftp_transfer_failures_total",
      "Failed TFTP transfers, by why.",
      recordSamples(t.failures, "why"),
    ),
    {
      name: "mesh_tftp_transfers_active",
      help: "TFTP transfers running.",
      type: "gauge",
      samples: [{ value: t.active }],
    },
    counter(
      "mesh_decode_errors_total",
      "Datagrams or requests that could not be decoded, by protocol.",
      [{
        labels: { protocol: "tftp" },
        value: t.malformed,
      }],
    ),
  ];
}
