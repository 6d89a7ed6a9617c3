/**
 * @module
 * The segments the daemon serves, kept in step with the network map: for
 * each served segment our address on its port (added with netlink when it
 * is not there, removed on stop only if we added it) and one DHCP service.
 * Applying a new map touches only the segments whose port, subnet or
 * address changed; the others keep serving without a pause.
 */
import { getLogger } from "@logtape/logtape";
import { checkServedSubnets, formatProblem, type Settings } from "../config/mod.ts";
import { addAddress, deleteAddress, interfaceMac } from "../net/mod.ts";
import { RouterAdvertiser } from "../ra/mod.ts";
import { type ForeignServer, RogueWatch } from "../dhcp/mod.ts";
import type { ProxySegment, ServedSegment, ServerSegment } from "../topology/mod.ts";
import { type Cidr, cidrBroadcast, formatCidr, formatIpv4 } from "../wire/mod.ts";
import type { NetScan } from "./net_scan.ts";
import { ProxyUnit, type ProxyUnitDeps } from "./proxy_unit.ts";

const log = getLogger(["mesh", "net"]);

/** One interface served by our own DHCP server. */
export interface ServedInterface {
  readonly name: string;
  readonly serverIp: number;
  readonly subnet: Cidr;
  readonly pool: { readonly start: number; readonly end: number };
  readonly routers: readonly number[];
  readonly dns: readonly number[];
}

/**
 * The default pool of a subnet: everything after the first tenth (room for
 * static hosts, at least 1 address) up to the last usable address.
 */
export function defaultPool(subnet: Cidr): { start: number; end: number } {
  const first = subnet.network + 1;
  const last = cidrBroadcast(subnet) - 1;
  const skip = Math.max(1, Math.floor((last - first + 1) / 10));
  return { start: Math.min(first + skip, last), end: last };
}

/** What the manager needs to start one segment's DHCP. */
export interface ServedNetDeps extends ProxyUnitDeps {
  readonly settings: Settings;
  /** Starts DHCP on one interface; the handle stops it. */
  readonly startDhcp: (s: ServedInterface) => { close(): Promise<void> | void };
  /** Another server hands out addresses on a segment we serve in full (the rogue guard). */
  readonly onForeign: (segment: string, server: ForeignServer) => void;
}

interface Running {
  readonly key: string;
  readonly served: ServedInterface;
  readonly segment: string;
  readonly ifindex: number;
  /** True when we put the address there (and so take it away). */
  readonly added: boolean;
  readonly dhcp: { close(): Promise<void> | void };
  /** IPv6 router advertisements: iPXE waits ~16 s for one in its "Configuring" step. */
  readonly ra: RouterAdvertiser | null;
  /** Listens for other DHCP servers on the segment. */
  readonly guard: RogueWatch | null;
}

/** The DHCP configuration of a served segment, from the map and mesh.yaml. */
export function servedInterface(s: ServerSegment, settings: Settings): ServedInterface {
  const cfg = settings.interfaces[s.interface];
  return {
    name: s.interface,
    serverIp: s.serverIp,
    subnet: s.subnet,
    pool: cfg?.pool ?? defaultPool(s.subnet),
    routers: cfg?.router !== undefined ? [cfg.router] : [],
    dns: cfg?.dns ?? settings.dhcp.dns,
  };
}

const keyOf = (s: ServedSegment) =>
  s.kind === "server"
    ? `server ${s.interface} ${formatCidr(s.subnet)} ${s.serverIp}`
    : `proxy ${s.interface} ${s.serverIp === null ? "lease" : formatIpv4(s.serverIp)}`;

/** Keeps addresses and DHCP services in step with the map. */
export class ServedNet {
  readonly #deps: ServedNetDeps;
  readonly #running = new Map<string, Running>();
  readonly #proxies = new Map<string, { key: string; unit: ProxyUnit }>();

  constructor(deps: ServedNetDeps) {
    this.#deps = deps;
  }

  /** What is served now, in segment order. */
  get served(): ServedInterface[] {
    return [...this.#running.values()].map((r) => r.served);
  }

  /** The subnets served by proxyDHCP now. */
  get proxiedSubnets(): Cidr[] {
    return [...this.#proxies.values()].flatMap((p) => p.unit.subnet ?? []);
  }

  /** The interfaces served by proxyDHCP now. */
  get proxied(): string[] {
    return [...this.#proxies.values()].map((p) => p.unit.interface);
  }

  /**
   * Stops full DHCP on `segment` at once (the rogue guard saw another
   * server there); the next apply decides what comes instead.
   */
  async stopServer(segment: string, why: string): Promise<void> {
    const r = this.#running.get(segment);
    if (r) await this.#stop(segment, r, why);
  }

  /**
   * Brings the served segments in line with `scan`. With `strict` (the
   * first start) a segment that cannot be served stops the start; later a
   * failure is logged and that segment alone stays unserved.
   */
  async apply(scan: NetScan, strict: boolean): Promise<void> {
    const want = new Map(scan.map.served.map((s) => [s.segment, s] as const));
    for (const [id, r] of [...this.#running]) {
      const w = want.get(id);
      if (w === undefined || keyOf(w) !== r.key) await this.#stop(id, r, w ? "changed" : "gone");
    }
    for (const [id, p] of [...this.#proxies]) {
      const w = want.get(id);
      if (w !== undefined && this.#sameProxy(p, w)) continue;
      this.#proxies.delete(id);
      await p.unit.close();
      log.info("segment no longer served", { segment: id, if: p.unit.interface, mode: "proxy" });
    }
    for (const s of want.values()) {
      if (this.#running.has(s.segment) || this.#proxies.has(s.segment)) continue;
      const ifindex = scan.ifindex.get(s.interface);
      try {
        if (ifindex === undefined) throw new Error(`interface ${s.interface} is gone`);
        if (s.kind === "server") await this.#start(s, ifindex);
        else await this.#startProxy(s, ifindex);
      } catch (e) {
        const msg = (e as Error).message;
        if (strict) throw new Error(msg.startsWith("dhcp:") ? msg : `dhcp: ${msg}`);
        log.error("segment not served", { segment: s.segment, if: s.interface, error: msg });
      }
    }
    for (const p of checkServedSubnets(this.#deps.settings, this.served)) {
      log.warn("setting does not fit the served subnet", { problem: formatProblem(p) });
    }
  }

  /** Stops every segment (and takes away the addresses we added). */
  async close(): Promise<void> {
    for (const [id, r] of [...this.#running]) await this.#stop(id, r, "stopping");
    for (const [id, p] of [...this.#proxies]) {
      this.#proxies.delete(id);
      await p.unit.close();
    }
  }

  /** A proxy segment whose address came by lease stays as it is when the map now sees that address. */
  #sameProxy(p: { key: string; unit: ProxyUnit }, w: ServedSegment): boolean {
    if (w.kind !== "proxy" || w.interface !== p.unit.interface) return false;
    if (keyOf(w) === p.key) return true;
    return p.key.endsWith(" lease") && w.serverIp !== null && w.serverIp === p.unit.serverIp;
  }

  async #startProxy(s: ProxySegment, ifindex: number): Promise<void> {
    const unit = await ProxyUnit.start(s, ifindex, this.#deps);
    this.#proxies.set(s.segment, { key: keyOf(s), unit });
  }

  async #start(s: ServerSegment, ifindex: number): Promise<void> {
    const served = servedInterface(s, this.#deps.settings);
    const addr = `${formatIpv4(s.serverIp)}/${s.subnet.prefix}`;
    const added = (await addAddress(ifindex, s.serverIp, s.subnet.prefix)) === "added";
    if (added) {
      log.info("address added", { if: s.interface, address: addr, segment: s.segment });
      this.#deps.record("address-added", s.segment, { interface: s.interface, address: addr });
    }
    let dhcp;
    try {
      dhcp = this.#deps.startDhcp(served);
    } catch (e) {
      if (added) await deleteAddress(ifindex, s.serverIp, s.subnet.prefix).catch(() => {});
      throw e;
    }
    let ra: RouterAdvertiser | null = null;
    try {
      // A non-default router with no prefix: it ends iPXE's IPv6 wait and
      // changes nothing of the network's IPv6 routing.
      ra = RouterAdvertiser.start({ ifname: s.interface, mac: interfaceMac(s.interface) });
    } catch (e) {
      log.warn("no IPv6 router advertisements; iPXE waits for them", {
        if: s.interface,
        error: String(e),
      });
    }
    let guard: RogueWatch | null = null;
    try {
      guard = new RogueWatch({
        ifname: s.interface,
        own: { ips: new Set([s.serverIp]), macs: new Set([interfaceMac(s.interface)]) },
        onForeign: (server) => this.#deps.onForeign(s.segment, server),
      });
    } catch (e) {
      log.warn("no rogue guard: another DHCP server there would go unseen", {
        if: s.interface,
        error: String(e),
      });
    }
    this.#running.set(s.segment, {
      guard,
      key: keyOf(s),
      served,
      segment: s.segment,
      ifindex,
      added,
      dhcp,
      ra,
    });
    log.info("segment served", {
      segment: s.segment,
      if: s.interface,
      subnet: formatCidr(s.subnet),
      address: formatIpv4(s.serverIp),
    });
  }

  async #stop(id: string, r: Running, why: string): Promise<void> {
    this.#running.delete(id);
    r.guard?.close();
    try {
      r.ra?.close();
    } catch (e) {
      log.warn("router advertiser stop failed", { segment: id, error: String(e) });
    }
    try {
      await r.dhcp.close();
    } catch (e) {
      log.warn("dhcp stop failed", { segment: id, error: String(e) });
    }
    if (r.added) {
      const addr = `${formatIpv4(r.served.serverIp)}/${r.served.subnet.prefix}`;
      try {
        await deleteAddress(r.ifindex, r.served.serverIp, r.served.subnet.prefix);
        this.#deps.record("address-removed", id, { interface: r.served.name, address: addr });
      } catch (e) {
        log.warn("address not removed", { if: r.served.name, address: addr, error: String(e) });
      }
    }
    log.info("segment no longer served", { segment: id, if: r.served.name, why });
  }
}
