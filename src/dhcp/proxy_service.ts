/**
 * @module
 * The proxyDHCP service as the daemon starts it on a segment that already
 * has a DHCP server: the port 67 server loop (server.ts) driven by the proxy
 * responder, and the PXE boot server on UDP 4011 (boot_server.ts).
 *
 * Port 67 is read from a raw socket (the DhcpTransport of src/net), so the
 * address server may run on the same host: the transport's kernel UDP socket
 * is bound per device with SO_REUSEADDR and only used to send, nothing binds
 * 0.0.0.0:67 exclusively. The responder never returns lease changes, so the
 * loop runs without a store and nothing is written.
 */
import { getLogger } from "@logtape/logtape";
import type { BootFilesConfig } from "../boot/mod.ts";
import { getInterface } from "../net/mod.ts";
import { type Cidr, formatIpv4 } from "../wire/mod.ts";
import { type BootServerHandle, type BootServerStats, startBootServer } from "./boot_server.ts";
import { clientMac, type DhcpPacket } from "./packet.ts";
import { type ProxyResponder, proxyResponder, type ProxyStrategies } from "./proxy.ts";
import { type DhcpServerOptions, type DhcpServerStats, startDhcpServer } from "./server.ts";

const log = getLogger(["mesh", "dhcp", "proxy"]);

/** An interface to proxy on. */
export interface ProxyInterfaceOptions {
  readonly name: string;
  /** Our address on it (option 54, siaddr). */
  readonly serverIp: number;
  /** Its subnet; read from the interface when omitted. */
  readonly subnet?: Cidr;
  /** Segment name passed to `boot`; the interface name by default. */
  readonly segment?: string;
}

/** One decision, for logs and node events. */
export interface ProxyDecisionEvent {
  readonly port: 67 | 4011;
  readonly mac: string;
  readonly kind: "ignore" | "reply";
  readonly reason: string;
  readonly sent: boolean;
}

export interface ProxyServiceOptions {
  readonly interfaces: readonly ProxyInterfaceOptions[];
  /** Boot files for a segment served from `serverIp`; undefined = nothing to boot there. */
  readonly boot: (segment: string, serverIp: number) => BootFilesConfig | undefined;
  /** Per-firmware strategy (default DEFAULT_PROXY_STRATEGIES). */
  readonly strategies?: Partial<ProxyStrategies>;
  /** Answer requests forwarded by relay agents (default false). */
  readonly relayed?: boolean;
  readonly signal?: AbortSignal;
  /** Port of the boot server (default 4011). */
  readonly bootServerPort?: number;
  /** Request budget per client MAC on port 67 (default DEFAULT_CLIENT_BUDGET; false: none). */
  readonly clientBudget?: DhcpServerOptions["clientBudget"];
  /** Must be cheap and must not throw (errors are caught and counted). */
  readonly onDecision?: (ev: ProxyDecisionEvent) => void;
}

export interface ProxyServiceStats {
  /** The port 67 loop (offers and acks; `commits` stays 0). */
  readonly dhcp: DhcpServerStats;
  readonly bootServer: BootServerStats;
}

export interface ProxyServiceHandle {
  readonly responder: ProxyResponder;
  /** The bound boot server port. */
  readonly bootServerPort: number;
  stats(): ProxyServiceStats;
  /** Stops both servers and closes their sockets. */
  close(): Promise<void>;
  /** Resolves when both have stopped. */
  readonly done: Promise<void>;
}

async function subnetOf(i: ProxyInterfaceOptions): Promise<Cidr> {
  if (i.subnet !== undefined) return i.subnet;
  const found = (await getInterface(i.name)).ipv4.find((a) => a.ip === i.serverIp);
  if (found === undefined) {
    throw new Error(`dhcp proxy: interface ${i.name} has no address ${formatIpv4(i.serverIp)}`);
  }
  return found.subnet;
}

/**
 * Starts proxyDHCP on every interface in `opts`: all or nothing. Throws an
 * Error naming the interface (or port 4011) whose socket cannot be opened.
 */
export async function startProxyService(opts: ProxyServiceOptions): Promise<ProxyServiceHandle> {
  if (opts.interfaces.length === 0) throw new Error("dhcp proxy: no interfaces");
  const interfaces = await Promise.all(opts.interfaces.map(async (i) => ({
    name: i.name,
    serverIp: i.serverIp,
    subnet: await subnetOf(i),
    ...(i.segment !== undefined ? { segment: i.segment } : {}),
  })));
  const responder = proxyResponder({
    boot: opts.boot,
    ...(opts.strategies !== undefined ? { strategies: opts.strategies } : {}),
    ...(opts.relayed !== undefined ? { relayed: opts.relayed } : {}),
  });
  const hook = opts.onDecision;
  const event = (
    port: 67 | 4011,
    req: DhcpPacket,
    d: { readonly kind: string; readonly reason: string },
    sent: boolean,
  ) => {
    const kind = d.kind === "reply" ? "reply" : "ignore";
    hook?.({ port, mac: clientMac(req), kind, reason: d.reason, sent });
  };

  const dhcp = startDhcpServer({
    interfaces,
    responder,
    // Nothing to probe: the proxy hands out no addresses.
    probe: false,
    ...(opts.clientBudget !== undefined ? { clientBudget: opts.clientBudget } : {}),
    ...(hook !== undefined ? { onDecision: (req, d, sent) => event(67, req, d, sent) } : {}),
  });
  let bootServer: BootServerHandle;
  try {
    bootServer = startBootServer({
      interfaces,
      responder,
      ...(opts.bootServerPort !== undefined ? { port: opts.bootServerPort } : {}),
      ...(hook !== undefined ? { onDecision: (req, d, sent) => event(4011, req, d, sent) } : {}),
    });
  } catch (e) {
    await dhcp.close();
    throw e;
  }
  const done = Promise.all([dhcp.done, bootServer.done]).then(() => {});
  const close = async () => {
    await Promise.all([dhcp.close(), bootServer.close()]);
  };
  if (opts.signal?.aborted) await close();
  else opts.signal?.addEventListener("abort", () => void close(), { once: true });

  log.info("dhcp proxy started", {
    interfaces: interfaces.map((i) => `${i.name} ${formatIpv4(i.serverIp)}`),
    strategies: responder.strategies,
    bootServerPort: bootServer.port,
  });
  return {
    responder,
    bootServerPort: bootServer.port,
    stats: () => ({ dhcp: dhcp.stats(), bootServer: bootServer.stats() }),
    close,
    done,
  };
}
