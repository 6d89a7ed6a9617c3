/**
 * @module
 * One proxy segment as the daemon runs it: the central node's address there
 * (the pinned or present one, else a lease from the segment's own DHCP
 * server, renewed, released on stop) and the proxyDHCP service from that
 * address. Until the lease is granted the segment is not served: a proxy
 * reply must name an address the clients can reach.
 */
import { getLogger } from "@logtape/logtape";
import { type OwnLease, startLeaseClient } from "../dhcp/mod.ts";
import { addAddress, deleteAddress, interfaceMac } from "../net/mod.ts";
import { otherRouterAnswers, RouterAdvertiser } from "../ra/mod.ts";
import type { ProxySegment } from "../topology/mod.ts";
import { type Cidr, formatCidr, formatIpv4, prefixMask } from "../wire/mod.ts";

const log = getLogger(["mesh", "net"]);

/** What the unit needs from the daemon. */
export interface ProxyUnitDeps {
  /** Starts proxyDHCP on one interface from `serverIp`. */
  readonly startProxy: (
    s: { name: string; serverIp: number; subnet: Cidr },
  ) => Promise<{ close(): Promise<void> | void }>;
  readonly record: (kind: string, segment: string, detail: Record<string, unknown>) => void;
}

/** A running proxy segment. */
export class ProxyUnit {
  readonly segment: string;
  readonly interface: string;
  readonly #deps: ProxyUnitDeps;
  readonly #ifindex: number;
  #service: { close(): Promise<void> | void } | null = null;
  /** Our IPv6 router advertisements, only where no other router answers. */
  #ra: RouterAdvertiser | null = null;
  #lease: { close(): Promise<void> } | null = null;
  /** Our address there now, and whether we put it on the port. */
  #address: { ip: number; prefix: number; added: boolean } | null = null;
  /** Serialises lease events and stop. */
  #chain = Promise.resolve();
  #closed = false;

  private constructor(s: ProxySegment, ifindex: number, deps: ProxyUnitDeps) {
    this.segment = s.segment;
    this.interface = s.interface;
    this.#ifindex = ifindex;
    this.#deps = deps;
  }

  /** The subnet served, once we have an address there. */
  get subnet(): Cidr | null {
    const a = this.#address;
    return a ? { network: (a.ip & prefixMask(a.prefix)) >>> 0, prefix: a.prefix } : null;
  }

  /** Our address on the segment, when we have one. */
  get serverIp(): number | null {
    return this.#address?.ip ?? null;
  }

  /** Starts serving `s`: at once from a known address, or once a lease is granted. */
  static async start(s: ProxySegment, ifindex: number, deps: ProxyUnitDeps): Promise<ProxyUnit> {
    const u = new ProxyUnit(s, ifindex, deps);
    if (s.serverIp !== null && s.subnet !== null) {
      await u.#serve(s.serverIp, s.subnet.prefix, false);
      return u;
    }
    const mac = interfaceMac(s.interface);
    const client = startLeaseClient({
      ifname: s.interface,
      mac,
      // Once closing, the release's own callback must not queue behind the
      // close that is waiting for it.
      onBound: (lease) => u.#closed ? undefined : u.#then(() => u.#bound(lease)),
      onUnbound: (lease, why) => u.#closed ? undefined : u.#then(() => u.#unbound(lease, why)),
    });
    u.#lease = client;
    log.info("taking an address by DHCP for proxyDHCP", { segment: s.segment, if: s.interface });
    return u;
  }

  #then(fn: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(fn).catch((e) =>
      log.error("proxy segment step failed", { segment: this.segment, error: String(e) })
    );
    return this.#chain;
  }

  async #bound(lease: OwnLease): Promise<void> {
    if (this.#closed) return;
    if (this.#address?.ip === lease.ip) return; // a renewal: nothing changes for the clients
    if (this.#address) await this.#unserve();
    const added = (await addAddress(this.#ifindex, lease.ip, lease.prefix)) === "added";
    log.info("address leased", {
      segment: this.segment,
      if: this.interface,
      address: `${formatIpv4(lease.ip)}/${lease.prefix}`,
      server: formatIpv4(lease.serverId),
    });
    await this.#serve(lease.ip, lease.prefix, added);
  }

  async #unbound(lease: OwnLease, why: string): Promise<void> {
    if (this.#address?.ip !== lease.ip) return;
    log.warn("leased address lost; proxyDHCP stops there", { segment: this.segment, why });
    await this.#unserve();
  }

  async #serve(ip: number, prefix: number, added: boolean): Promise<void> {
    const subnet = { network: (ip & prefixMask(prefix)) >>> 0, prefix };
    this.#address = { ip, prefix, added };
    this.#service = await this.#deps.startProxy({ name: this.interface, serverIp: ip, subnet });
    await this.#advertiseIfAlone();
    this.#deps.record("proxy-served", this.segment, {
      interface: this.interface,
      address: formatIpv4(ip),
      subnet: formatCidr(subnet),
    });
    log.info("segment served", {
      segment: this.segment,
      if: this.interface,
      mode: "proxy",
      subnet: formatCidr(subnet),
      address: formatIpv4(ip),
    });
  }

  /**
   * iPXE waits ~16 s for an RA in its "Configuring" step. A network with a
   * DHCP server usually has a router that sends them; where none answers a
   * solicitation, mesh sends its own (lifetime 0, no prefix: it routes nothing).
   */
  async #advertiseIfAlone(): Promise<void> {
    try {
      const mac = interfaceMac(this.interface);
      if (await otherRouterAnswers(this.interface, mac)) return;
      this.#ra = RouterAdvertiser.start({ ifname: this.interface, mac });
    } catch (e) {
      log.warn("no IPv6 router advertisements on a proxy segment", {
        segment: this.segment,
        error: String(e),
      });
    }
  }

  async #unserve(): Promise<void> {
    this.#ra?.close();
    this.#ra = null;
    const svc = this.#service;
    const addr = this.#address;
    this.#service = null;
    this.#address = null;
    await svc?.close();
    if (addr?.added) {
      await deleteAddress(this.#ifindex, addr.ip, addr.prefix).catch((e) =>
        log.warn("address not removed", { if: this.interface, error: String(e) })
      );
    }
  }

  /** Stops the service, releases the lease and takes away the address we added. */
  close(): Promise<void> {
    return this.#then(async () => {
      this.#closed = true;
      await this.#unserve();
      await this.#lease?.close();
      this.#lease = null;
    });
  }
}
