/**
 * @module
 * The composition root of `mesh serve`: loads /host0, compiles the overlays,
 * opens the state database (one daemon per state directory), and runs HTTP,
 * TFTP and — on every interface in server mode — DHCP, all in one process.
 * A service that fails to start stops everything with one clear reason: there
 * is no half-alive daemon. SIGTERM/SIGINT stop it; SIGHUP reloads /host0 and
 * recompiles the overlays without touching leases (a bad /host0 on reload is
 * logged with file:line and the previous overlays stay served).
 */
import { getLogger } from "@logtape/logtape";
import { compileOverlays } from "../apkovl/mod.ts";
import { type Host0, loadHost0 } from "../config/mod.ts";
import { ConfigError, formatIssue } from "../errors.ts";
import { createApp, loadOverlayIndex, serveHttp } from "../http/mod.ts";
import { NeighbourTable } from "../net/mod.ts";
import type { GuardSighting } from "../topology/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { acquireStateLock, LeaseStore, NetStore, NodeStore, openStore } from "../store/mod.ts";
import { startTftpServer, type TransferStats } from "../tftp/mod.ts";
import { installIpxeBinaries } from "./boot_assets.ts";
import { SwappableCatalog } from "./catalog.ts";
import { SqliteLeaseLookup } from "./lease_lookup.ts";
import { type NetScanOptions, scanNetwork } from "./net_scan.ts";
import { logScan, watchLinks } from "./rescan.ts";
import { servedInterface, ServedNet } from "./served_net.ts";
import { dhcpStarters } from "./dhcp_wiring.ts";
import { ServiceMeters, statusSources } from "./service_metrics.ts";
import { apiAccessOf, bootPaths, publicBase, tftpStage } from "./service_config.ts";
import { superviseState } from "./state_health.ts";
import { startControlServer } from "./control.ts";
import { controlSocketPath } from "./control_protocol.ts";
import { ensureNodeKey } from "./node_key.ts";
import { CentralMeshes, MESH_REFRESH_MS } from "./meshnets.ts";
import { LinkRates } from "./link_rates.ts";

const log = getLogger(["mesh", "daemon"]);

export interface DaemonOptions {
  readonly host0Dir: string;
  /** Overrides mesh.yaml's state_dir. */
  readonly stateDir?: string;
  /** Stops the daemon when aborted (tests); signals do the same in production. */
  readonly signal?: AbortSignal;
  /** Called once every service listens (tests, readiness). */
  readonly onReady?: (info: DaemonInfo) => void;
}

/** What a running daemon serves, for logs and tests. */
export interface DaemonInfo {
  readonly stateDir: string;
  readonly http: { hostname: string; port: number };
  readonly tftp: { hostname: string; port: number };
  readonly dhcp: readonly string[];
  /** Interfaces served by proxyDHCP (another server hands out the addresses there). */
  readonly proxy: readonly string[];
  readonly publicBase: string;
}

/**
 * Runs the daemon until a signal (or `opts.signal`) stops it. Resolves 0 on a
 * clean stop; throws ConfigError / StateLockedError / Error on a failed start.
 */
export async function runDaemon(opts: DaemonOptions): Promise<number> {
  // Overlays and the database carry node secrets: nothing mesh writes is for
  // other local users, whatever umask the daemon was started with.
  Deno.umask(0o077);
  const host0 = await loadHost0(opts.host0Dir);
  const settings = host0.settings;
  const stateDir = opts.stateDir ?? settings.stateDir;
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await Deno.chmod(stateDir, 0o700);
  const lock = acquireStateLock(`${stateDir}/mesh.lock`);
  const cleanups: (() => Promise<void> | void)[] = [() => lock.release()];
  const stop = new AbortController();
  const cleanup = async () => {
    stop.abort();
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        log.warn("shutdown step failed", { error: String(e) });
      }
    }
  };
  try {
    return await serve(host0, stateDir, opts, stop, cleanups);
  } finally {
    await cleanup();
  }
}

async function serve(
  host0: Host0,
  stateDir: string,
  opts: DaemonOptions,
  stop: AbortController,
  cleanups: (() => Promise<void> | void)[],
): Promise<number> {
  const settings = host0.settings;
  const store = openStore(`${stateDir}/mesh.db`);
  for (const f of ["mesh.db", "mesh.db-wal", "mesh.db-shm"]) {
    await Deno.chmod(`${stateDir}/${f}`, 0o600).catch(() => {});
  }
  const registry = new NodeStore(store.db);
  const leases = new LeaseStore(store.db);
  cleanups.push(() => store.close(), () => registry.close(), () => leases.flush());
  const health = superviseState(stateDir, registry, stop);
  cleanups.push(() => health.close());

  const apkovlDir = `${stateDir}/apkovl`;
  // The key `mesh node ctl` uses, made on first start so every overlay carries it.
  await ensureNodeKey(opts.host0Dir).catch((e) =>
    log.warn("no SSH key for node access; overlays go without it", { error: String(e) })
  );
  const compiled = await compileOverlays(host0, { outDir: apkovlDir });
  const catalog = new SwappableCatalog(host0, await loadOverlayIndex(apkovlDir));
  log.info("overlays published", { dir: apkovlDir, count: compiled.rows.length });

  const bootDir = settings.tftp.root;
  const binaries = await installIpxeBinaries(settings.boot, bootDir);
  log.info("boot files ready", { dir: bootDir, files: binaries });

  const net = new NetStore(store.db);
  const scanOpts: { -readonly [K in keyof NetScanOptions]: NetScanOptions[K] } = {
    settings,
    store: net,
    timings: {
      probes: settings.scan.probes,
      intervalMs: settings.scan.intervalMs,
      settleMs: settings.scan.settleMs,
    },
    holdMs: settings.scan.subnetHoldMs,
    signal: stop.signal,
  };
  const first = await scanNetwork(scanOpts, true);
  for (const name of first.missing) {
    if (settings.interfaces[name]?.mode === "server") {
      throw new Error(
        `interface ${name} (mesh.yaml interfaces.${name}) does not exist on this machine`,
      );
    }
  }
  logScan(first);

  const paths = bootPaths(settings);
  const base = publicBase(
    settings,
    first.map.served.flatMap((s) => s.kind === "server" ? [servedInterface(s, settings)] : []),
  );
  const leaseLookup = new SqliteLeaseLookup(leases, Date.now, new NeighbourTable());
  const apiAccess = await apiAccessOf(settings);
  // Status page and /metrics: every service's counters, collected here.
  const meters = new ServiceMeters(stop.signal);

  // HTTP: boot scripts, overlays, boot files, mirror, node API, status page.
  const app = createApp({
    registry,
    catalog,
    leases: leaseLookup,
    config: {
      ...paths,
      publicBase: base,
      // Several segments reach us at different addresses: answer each node
      // with the address it used, unless mesh.yaml names one host for all.
      baseFromHost: settings.http.publicHost === undefined,
      overlayAccess: settings.http.overlayAccess,
      apiAccess,
      statusPage: settings.http.statusPage,
    },
    roots: { mirror: settings.mirror.dir, boot: bootDir, isos: `${host0.root}/isos` },
    status: statusSources(net, meters),
    signal: stop.signal,
  });
  let http;
  try {
    http = serveHttp(app, {
      hostname: formatIpv4(settings.http.address),
      port: settings.http.port,
      maxConnections: settings.http.maxConnections,
      maxPerClient: settings.http.maxPerClient,
      headerTimeoutMs: settings.http.headerTimeoutMs,
      idleTimeoutMs: settings.http.idleTimeoutMs,
      linkRate: new LinkRates(settings.http.pacing, stop.signal).rateOf,
      signal: stop.signal,
    });
  } catch (e) {
    throw new Error(
      `http: cannot listen on ${formatIpv4(settings.http.address)}:${settings.http.port}: ${
        (e as Error).message
      }`,
    );
  }
  cleanups.push(() => http.finished);

  // TFTP: iPXE binaries (and kernels for those who still want TFTP).
  const onTransfer = (t: TransferStats) => {
    const stage = tftpStage(t.file, settings, paths);
    if (stage === null || !t.ok) return;
    registry.record({
      mac: leaseLookup.macForIp(t.ip),
      ip: t.ip,
      stage,
      source: "tftp",
      detail: {
        file: t.file,
        bytes: t.bytes,
        ms: Math.round(t.durationMs),
        retransmits: t.retransmits,
        blksize: t.blksize,
      },
      at: Date.now(),
    });
  };
  let tftp;
  try {
    tftp = await startTftpServer({
      hostname: formatIpv4(settings.tftp.address),
      port: settings.tftp.port,
      root: bootDir,
      maxTransfers: settings.tftp.maxTransfers,
      perClient: settings.tftp.perClient,
      timeoutMs: settings.tftp.timeoutMs,
      retries: settings.tftp.retries,
      onTransfer,
      signal: stop.signal,
    });
  } catch (e) {
    throw new Error(
      `tftp: cannot listen on ${formatIpv4(settings.tftp.address)}:${settings.tftp.port}: ${
        (e as Error).message
      }`,
    );
  }
  cleanups.push(() => tftp.close());
  meters.setTftp(tftp);

  // DHCP on every served segment, one service each, so a rescan that
  // changes one segment leaves the others serving.
  const starters = meters.wrap(dhcpStarters({
    settings,
    store: leases,
    signal: stop.signal,
    onEvent: (ev) => {
      // the firmware's option 97: what ties this MAC to its SMBIOS UUID
      const uuid = ev.detail.uuid;
      if (typeof uuid === "string") leaseLookup.noteDhcpUuid(ev.mac, uuid);
      registry.record({
        mac: ev.mac,
        ...(ev.ip !== undefined ? { ip: ev.ip } : {}),
        stage: ev.stage,
        source: "dhcp",
        detail: ev.detail,
        at: Date.now(),
      });
    },
  }));
  const record = (kind: string, segment: string, detail: Record<string, unknown>) =>
    net.record(Date.now(), [{ kind, segment, detail }]);
  // The rogue guard's sightings, by segment: they hold until SIGHUP (the
  // operator says the other server is gone), whatever a rescan finds.
  const guards = new Map<string, GuardSighting>();
  scanOpts.guard = guards;
  let rescan: (why: string) => void = () => {};
  const servedNet: ServedNet = new ServedNet({
    settings,
    ...starters,
    record,
    onForeign: (segment, server) => {
      const action = settings.dhcp.rogueAction;
      meters.noteGuard(action);
      log.error("another DHCP server hands out addresses on a segment mesh serves", {
        segment,
        server: server.serverId,
        mac: server.serverMac,
        offered: server.yiaddr,
        to: server.client,
        action,
      });
      record("rogue-server", segment, { ...server, action });
      if (guards.has(segment)) return;
      guards.set(segment, { serverId: server.serverId, serverMac: server.serverMac, action });
      if (action === "warn") return;
      // Stop handing out addresses now; the rescan sets up what comes instead.
      void servedNet.stopServer(segment, `guard: ${server.serverId} (${server.serverMac})`)
        .then(() => rescan("guard"));
    },
  });
  cleanups.push(() => servedNet.close());
  leaseLookup.setProxied(() => servedNet.proxiedSubnets);
  await servedNet.apply(first, true);

  // Cluster networks: the tunnels, members' flood entries and member lists.
  const meshes = new CentralMeshes(leases, registry);
  cleanups.push(() => meshes.close());
  await meshes.apply(host0);
  const meshTimer = setInterval(() => void meshes.tick(), MESH_REFRESH_MS);
  cleanups.push(() => clearInterval(meshTimer));

  // The control socket: reload, rescan and forget for the CLI (removed on stop),
  // listening before "mesh serving", so a ready daemon answers.
  const control = await startControlServer(controlSocketPath(stateDir, settings.controlSocket), {
    // called only once serving (reload is defined below by then)
    reload: () => reload(),
    rescan: () => {
      rescan("control");
      return reloading;
    },
    forget: (node) => {
      const n = registry.get(node, 0);
      if (n === undefined || n.id === null) return null;
      registry.forget(n.id);
      void meshes.refresh();
      return { id: n.id, mac: n.mac };
    },
  });
  cleanups.push(() => control.close());
  const info: DaemonInfo = {
    stateDir,
    http: http.addr,
    tftp: { hostname: tftp.addr.hostname, port: tftp.addr.port },
    dhcp: servedNet.served.map((s) => s.name),
    proxy: servedNet.proxied,
    publicBase: base,
  };
  log.info("mesh serving", { ...info });
  if (Deno.uid() === 0) {
    // It needs only CAP_NET_RAW, CAP_NET_BIND_SERVICE and CAP_NET_ADMIN (init/mesh.initd).
    log.warn("mesh serve runs as root; run it as its own user with three capabilities", {
      see: "init/mesh.initd",
    });
  }
  opts.onReady?.(info);

  // Rescans (link changes, SIGHUP) and reloads run one at a time.
  let reloading = Promise.resolve();
  rescan = (why: string) => {
    reloading = reloading.then(async () => {
      if (stop.signal.aborted) return;
      try {
        const next = await scanNetwork(scanOpts, true);
        if (stop.signal.aborted) return;
        logScan(next, why);
        await servedNet.apply(next, false);
      } catch (e) {
        log.error("rescan failed; the segments stay as they were", { why, error: String(e) });
      }
    });
  };
  const monitor = watchLinks(first.ports, () => rescan("link change"));
  cleanups.push(() => monitor.close());
  // A DHCP server can appear where none answered, unseen by the passive
  // guard (its replies unicast): scan and probe again now and then.
  if (settings.scan.reprobeMs > 0) {
    const timer = setInterval(() => rescan("periodic"), settings.scan.reprobeMs);
    cleanups.push(() => clearInterval(timer));
  }

  // SIGHUP: reload /host0 one at a time; never drop what is served on failure.
  // Resolves with why a reload was refused (for the control socket), or null.
  const reload = (): Promise<string | null> => {
    // The operator's word: segments the guard took over are decided afresh.
    guards.clear();
    rescan("SIGHUP");
    const done = reloading.then(async (): Promise<string | null> => {
      try {
        const next = await loadHost0(opts.host0Dir);
        const r = await compileOverlays(next, { outDir: apkovlDir });
        catalog.swap(next, await loadOverlayIndex(apkovlDir));
        await meshes.apply(next);
        log.info("reloaded /host0", { overlays: r.rows.length });
        return null;
      } catch (e) {
        if (e instanceof ConfigError) {
          log.error("reload refused; still serving the previous overlays", {
            problems: e.issues.map(formatIssue),
          });
          return `reload refused: ${e.issues.map(formatIssue).join("; ")}`;
        }
        log.error("reload failed; still serving the previous overlays", { error: String(e) });
        return `reload failed: ${String(e)}`;
      }
    });
    reloading = done.then(() => {});
    return done;
  };
  const onStop = () => stop.abort();
  const signals: [Deno.Signal, () => void][] = [["SIGTERM", onStop], ["SIGINT", onStop], [
    "SIGHUP",
    reload,
  ]];
  for (const [sig, fn] of signals) Deno.addSignalListener(sig, fn);
  cleanups.push(() => {
    for (const [sig, fn] of signals) Deno.removeSignalListener(sig, fn);
  });
  opts.signal?.addEventListener("abort", onStop, { once: true });
  if (opts.signal?.aborted) onStop();

  await new Promise<void>((resolve) =>
    stop.signal.addEventListener("abort", () => resolve(), { once: true })
  );
  await reloading;
  log.info("mesh stopping");
  return health.exitCode;
}
