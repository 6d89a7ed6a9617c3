/**
 * Starts the real DHCP service (startDhcpService) on eth0 of a lab namespace
 * with its log records as JSON lines on stderr (properties included), so a
 * test can check what the server said, not only its counters.
 *
 *   deno run -A tests/dhcp/serve_logged.ts '<json config>'
 *
 * Config: { db, serverIp, subnet, start, end, leaseSeconds?, reservations?,
 * probe?, clientBudget?, statsEveryMs?, failCommits? }. Prints {"ready": true,
 * "pid"} on stdout once the sockets are open, then {"stats": ...} every
 * statsEveryMs and a final one on SIGTERM with the lease rows the server holds
 * in memory ("memory"). With failCommits every lease commit throws, as on a
 * full disk. See startLogged() in _logged.ts.
 */
import { configure, getJsonLinesFormatter } from "@logtape/logtape";
import { startDhcpService } from "../../src/dhcp/mod.ts";
import type { ClientBudgetOptions } from "../../src/dhcp/server.ts";
import { formatIpv4, parseCidr, parseIpv4 } from "../../src/wire/mod.ts";
import { LeaseStore, openStore } from "../../src/store/mod.ts";

export interface LoggedConfig {
  db: string;
  serverIp: string;
  subnet: string;
  start: string;
  end: string;
  leaseSeconds?: number;
  reservations?: { mac: string; ip: string }[];
  probe?: boolean;
  clientBudget?: Partial<ClientBudgetOptions> | false;
  statsEveryMs?: number;
  failCommits?: boolean;
}

/** A lease row as the server holds it in memory. */
export interface MemoryRow {
  ip: string;
  mac: string;
  state: string;
}

if (import.meta.main) {
  const cfg = JSON.parse(Deno.args[0] ?? "{}") as LoggedConfig;
  const json = getJsonLinesFormatter();
  const enc = new TextEncoder();
  await configure({
    sinks: { stderr: (r) => Deno.stderr.writeSync(enc.encode(json(r))) },
    loggers: [
      { category: ["mesh"], lowestLevel: "info", sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
  const print = (o: unknown) => console.log(JSON.stringify(o));
  const store = openStore(cfg.db);
  const leases = new LeaseStore(store.db);
  const server = startDhcpService({
    interfaces: [{
      name: "eth0",
      serverIp: parseIpv4(cfg.serverIp),
      subnet: parseCidr(cfg.subnet),
      pool: { start: parseIpv4(cfg.start), end: parseIpv4(cfg.end) },
      leaseTime: cfg.leaseSeconds ?? 600,
    }],
    reservations: (cfg.reservations ?? []).map((r) => ({ mac: r.mac, ip: parseIpv4(r.ip) })),
    store: cfg.failCommits
      ? {
        loadAll: () => leases.loadAll(),
        writeNow() {
          throw new Error("database or disk is full (test)");
        },
      }
      : leases,
    probe: cfg.probe ?? false,
    ...(cfg.clientBudget !== undefined ? { clientBudget: cfg.clientBudget } : {}),
  });
  print({ ready: true, pid: Deno.pid });
  const timer = setInterval(() => print({ stats: server.stats() }), cfg.statsEveryMs ?? 200);
  const stop = async () => {
    clearInterval(timer);
    await server.close();
    const memory: MemoryRow[] = [...server.responder.pools.values()].flatMap((p) =>
      p.rows().map((r) => ({ ip: formatIpv4(r.ip), mac: r.mac, state: r.state }))
    );
    print({ stats: server.stats(), final: true, memory });
    store.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await server.done;
}
