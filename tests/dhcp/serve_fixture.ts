/**
 * Starts the real DHCP service (startDhcpService) inside a lab namespace, for
 * tests and the benchmark.
 *
 *   deno run -A tests/dhcp/serve_fixture.ts '<json config>'
 *
 * Config: { db, interfaces: [{name, serverIp, subnet}], pools: [{subnet, start,
 * end, router?, dns?, domain?, leaseSeconds}], reservations?, boot?, probe?,
 * probeTimeoutMs?, events?, statsEveryMs?, debug? }. A pool whose subnet holds
 * an interface's address serves that interface; the others are subnets behind
 * relays. Prints one JSON line {"ready": true, ...} once the sockets are open,
 * then {"stats": ...} lines every statsEveryMs, {"event": ...} lines when
 * `events` is set, and a final stats line on SIGTERM/SIGINT.
 */
import { configure, getConsoleSink } from "@logtape/logtape";
import { type BootFilesConfig, DEFAULT_BOOT_FILES } from "../../src/boot/mod.ts";
import { startDhcpService } from "../../src/dhcp/mod.ts";
import { cidrContains, formatIpv4, parseCidr, parseIpv4 } from "../../src/wire/mod.ts";
import { LeaseStore, openStore } from "../../src/store/mod.ts";

interface PoolSpec {
  subnet: string;
  start: string;
  end: string;
  router?: string;
  dns?: string[];
  domain?: string;
  leaseSeconds?: number;
}

export interface FixtureConfig {
  db: string;
  interfaces: { name: string; serverIp: string; subnet: string }[];
  pools: PoolSpec[];
  reservations?: { mac?: string; node?: string; ip: string; hostname?: string }[];
  /** PXE boot files for every interface; tftpServer/httpBase default to the interface address. */
  boot?: { httpPort?: number; efiX64Snp?: boolean };
  probe?: boolean;
  probeTimeoutMs?: number;
  events?: boolean;
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
const print = (o: unknown) => console.log(JSON.stringify(o));

function segmentOf(p: PoolSpec) {
  return {
    subnet: parseCidr(p.subnet),
    pool: { start: parseIpv4(p.start), end: parseIpv4(p.end) },
    ...(p.router ? { routers: [parseIpv4(p.router)] } : {}),
    ...(p.dns ? { dns: p.dns.map(parseIpv4) } : {}),
    ...(p.domain ? { domain: p.domain } : {}),
    leaseTime: p.leaseSeconds ?? 3600,
  };
}

const used = new Set<PoolSpec>();
const interfaces = cfg.interfaces.map((i) => {
  const serverIp = parseIpv4(i.serverIp);
  const pool = cfg.pools.find((p) => cidrContains(parseCidr(p.subnet), serverIp));
  if (!pool) throw new Error(`no pool for interface ${i.name}`);
  used.add(pool);
  return { name: i.name, serverIp, ...segmentOf(pool), subnet: parseCidr(i.subnet) };
});
const relayed = cfg.pools.filter((p) => !used.has(p)).map((p) => ({
  segment: `relay-${p.subnet}`,
  ...segmentOf(p),
}));
const boot = cfg.boot;
const bootFiles = boot === undefined ? undefined : (_segment: string, serverIp: number) => {
  const ip = formatIpv4(serverIp);
  return {
    ...DEFAULT_BOOT_FILES,
    tftpServer: serverIp,
    httpBase: `http://${ip}${boot.httpPort && boot.httpPort !== 80 ? `:${boot.httpPort}` : ""}`,
    efiX64Snp: boot.efiX64Snp ?? false,
  } satisfies BootFilesConfig;
};

const store = openStore(cfg.db);
const leases = new LeaseStore(store.db);
const restored = leases.loadAll().length;
const server = startDhcpService({
  interfaces,
  relayed,
  reservations: (cfg.reservations ?? []).map((r) => ({ ...r, ip: parseIpv4(r.ip) })),
  ...(bootFiles ? { boot: bootFiles } : {}),
  store: leases,
  probe: cfg.probe ?? true,
  ...(cfg.probeTimeoutMs !== undefined ? { probeTimeoutMs: cfg.probeTimeoutMs } : {}),
  ...(cfg.events ? { onEvent: (event) => print({ event }) } : {}),
});
print({ ready: true, pid: Deno.pid, restored });
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
