import assert from "node:assert/strict";
import type { DhcpServerStats, DhcpServiceHandle, ProxyServiceHandle } from "../dhcp/mod.ts";
import { renderMetrics } from "../http/mod.ts";
import { parseMetrics, promtoolCheck, sampleValue } from "../testing/prometheus.ts";
import type { TftpServer } from "../tftp/mod.ts";
import type { dhcpStarters } from "./dhcp_wiring.ts";
import { addNumbers, ServiceMeters } from "./service_metrics.ts";

type Starters = ReturnType<typeof dhcpStarters>;

/** Counters as the DHCP server keeps them (server_stats.ts), a few of them moved. */
function newStats(received = 0): DhcpServerStats {
  const dropped = {
    malformed: 0,
    ignored: 0,
    errors: 0,
    sendFailures: 0,
    badFrames: 0,
    notDurable: 0,
    rateLimited: 0,
    poolExhausted: 0,
  };
  return {
    received,
    replied: 0,
    offers: received > 0 ? 1 : 0,
    acks: 0,
    naks: 0,
    dropped,
    ignoreReasons: received > 0 ? { "client chose server #.#.#.#": 1 } : {},
    decisions: received > 0 ? { "DISCOVER reply": 1, "REQUEST ignore": 1 } : {},
    commits: 0,
    probes: 0,
    conflicts: received > 0 ? 2 : 0,
    sendRetries: 0,
  };
}

function fakeDhcp(received: number): DhcpServiceHandle {
  const stats = newStats(received);
  return {
    stats: () => structuredClone(stats),
    responder: {
      pools: new Map([["eth0", {
        counts: () => ({ bound: 3, offered: 1, declined: 0, free: 96 }),
      }]]),
    },
    close: () => Promise.resolve(),
    done: Promise.resolve(),
  } as unknown as DhcpServiceHandle;
}

const served = (name: string) => ({
  name,
  serverIp: 0x0a000001,
  subnet: { network: 0x0a000000, prefix: 24 },
  pool: { start: 0x0a00000a, end: 0x0a0000fe },
  routers: [],
  dns: [],
});

Deno.test("service meters: DHCP counters survive a service restart; pools, guard and TFTP are reported", async () => {
  const stop = new AbortController();
  const meters = new ServiceMeters(stop.signal);
  let n = 0;
  const starters = meters.wrap({
    startDhcp: () => fakeDhcp(++n * 10),
    startProxy: () =>
      Promise.resolve({
        stats: () => ({
          dhcp: newStats(),
          bootServer: { received: 4, replied: 3, ignored: 1, malformed: 2 },
        }),
        close: () => Promise.resolve(),
      } as unknown as ProxyServiceHandle),
  } as unknown as Starters);
  const first = starters.startDhcp(served("eth0"));
  await first.close(); // a rescan restarts the segment: its totals stay
  starters.startDhcp(served("eth0"));
  await starters.startProxy({ name: "eth2", serverIp: 1, subnet: { network: 0, prefix: 24 } });
  meters.noteGuard("switch");
  meters.setTftp({
    stats: () => ({
      received: 9,
      requests: 5,
      completed: 3,
      failed: 1,
      sizeProbes: 1,
      refused: 2,
      malformed: 1,
      active: 0,
      shutdownErrors: 0,
      bytes: 123456,
      retransmits: 4,
      errorsSent: { "1": 2 },
      failures: { timeout: 1 },
    }),
  } as unknown as TftpServer);
  const text = renderMetrics(meters.families());
  const m = parseMetrics(text);
  const l = { interface: "eth0", mode: "server" };
  assert.equal(sampleValue(m, "mesh_dhcp_received_total", l), 30);
  assert.equal(
    sampleValue(m, "mesh_dhcp_decisions_total", { ...l, type: "DISCOVER", decision: "reply" }),
    2,
  );
  assert.equal(
    sampleValue(m, "mesh_dhcp_decisions_total", { ...l, type: "REQUEST", decision: "ignore" }),
    2,
  );
  assert.equal(
    sampleValue(m, "mesh_dhcp_ignored_total", { ...l, reason: "client chose server #.#.#.#" }),
    2,
  );
  assert.equal(sampleValue(m, "mesh_dhcp_probe_conflicts_total", l), 4);
  assert.equal(sampleValue(m, "mesh_dhcp_leases", { ...l, pool: "eth0", state: "free" }), 96);
  assert.equal(
    sampleValue(m, "mesh_dhcp_boot_server_total", { interface: "eth2", outcome: "replied" }),
    3,
  );
  assert.equal(sampleValue(m, "mesh_decode_errors_total", { protocol: "dhcp_4011" }), 2);
  assert.equal(sampleValue(m, "mesh_decode_errors_total", { protocol: "tftp" }), 1);
  assert.equal(sampleValue(m, "mesh_dhcp_guard_events_total", { action: "switch" }), 1);
  assert.equal(sampleValue(m, "mesh_tftp_bytes_total"), 123456);
  assert.equal(sampleValue(m, "mesh_tftp_errors_sent_total", { code: "1" }), 2);
  assert.equal(sampleValue(m, "mesh_tftp_transfer_failures_total", { why: "timeout" }), 1);
  assert.ok((sampleValue(m, "process_resident_memory_bytes") ?? 0) > 1e6);
  const check = await promtoolCheck(text);
  if (check !== null) assert.equal(check.code, 0, check.output);
  stop.abort();
});

Deno.test("service meters: addNumbers adds nested counters and records", () => {
  const into: Record<string, unknown> = { a: 1, r: { x: 1 } };
  addNumbers(into, { a: 2, r: { x: 1, y: 5 }, s: { z: 1 } });
  assert.deepEqual(into, { a: 3, r: { x: 2, y: 5 }, s: { z: 1 } });
});
