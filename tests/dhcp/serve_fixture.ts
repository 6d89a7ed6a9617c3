/**
 * Starts the DHCP server inside a lab namespace, for tests and the benchmark.
 *
 *   deno run -A tests/dhcp/serve_fixture.ts '<json config>'
 *
 * Config: { db, interfaces: [{name, serverIp, subnet}], pools: [{subnet, start,
 * end, router?, leaseSeconds}], probe?, statsEveryMs? }. Prints one JSON line
 * {"ready": true, ...} once the sockets are open, then {"stats": ...} lines
 * every statsEveryMs and a final one on SIGTERM/SIGINT.
 */
import { startDhcpServer } from "../../src/dhcp/server.ts";
import { LeaseStore } from "../../src/store/lease_store.ts";
import { openStore } from "../../src/store/mod.ts";
import { parseCidr, parseIpv4 } from "../../src/net/mod.ts";
import { StandInResponder } from "./stand_in_responder.ts";
import { configure, getConsoleSink } from "@logtape/logtape";

interface FixtureConfig {
  db: string;
  interfaces: { name: string; serverIp: string; subnet: string }[];
  pools: { subnet: string; start: string; end: string; router?: string; leaseSeconds?: number }[];
  probe?: boolean;
  statsEveryMs?: number;
  debug?: boolean;
}

const cfg = JSON.parse(Deno.args[0] ?? "{}") as FixtureConfig;
await configure({
  sinks: { stderr: getConsoleSink() },
  loggers: [
    { category: ["mesh"], lowestLevel: cfg.debug ? "debug" : "warning", sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});
const store = openStore(cfg.db);
const leases = new LeaseStore(store.db);
const rows = leases.loadAll();
const responder = new StandInResponder(
  cfg.pools.map((p) => ({
    subnet: parseCidr(p.subnet),
    start: parseIpv4(p.start),
    end: parseIpv4(p.end),
    ...(p.router ? { router: parseIpv4(p.router) } : {}),
    leaseSeconds: p.leaseSeconds ?? 3600,
  })),
  rows,
);
const server = startDhcpServer({
  interfaces: cfg.interfaces.map((i) => ({
    name: i.name,
    serverIp: parseIpv4(i.serverIp),
    subnet: parseCidr(i.subnet),
  })),
  responder,
  store: leases,
  probe: cfg.probe ?? false,
});
const print = (o: unknown) => console.log(JSON.stringify(o));
print({ ready: true, pid: Deno.pid, restored: rows.length });
const timer = setInterval(() => print({ stats: server.stats() }), cfg.statsEveryMs ?? 1000);
const stop = async () => {
  clearInterval(timer);
  await server.close();
  print({ stats: server.stats(), final: true });
  store.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
await server.done;
