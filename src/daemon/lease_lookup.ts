/**
 * @module
 * Answers the HTTP service's "does this address hold a lease for that MAC?"
 * from the leases table (through the LeaseStore). Leases are committed before their ACK leaves, so a
 * node that fetches its overlay right after DHCP is already in the table.
 * On a proxy segment another server hands the addresses out, so there the
 * binding comes from the kernel's neighbour table: the MAC the kernel
 * resolved the address to in order to answer that host.
 */
import type { LeaseLookup } from "../http/mod.ts";
import type { LeaseStore } from "../store/mod.ts";
import { type Cidr, cidrContains, parseIpv4 } from "../wire/mod.ts";

function ipNumber(ip: string): number | null {
  try {
    return parseIpv4(ip.startsWith("::ffff:") ? ip.slice(7) : ip);
  } catch {
    return null;
  }
}

/** MACs whose option 97 UUID is remembered (bounded: a flood of made-up MACs evicts the oldest). */
const MAX_UUIDS = 65_536;

/** LeaseLookup over the SQLite leases table, plus the option 97 UUIDs our DHCP server saw. */
export class SqliteLeaseLookup implements LeaseLookup {
  #leases: Pick<LeaseStore, "boundMacAt">;
  #uuids = new Map<string, string>();
  #proxied: () => readonly Cidr[] = () => [];
  constructor(
    leases: Pick<LeaseStore, "boundMacAt">,
    readonly now: () => number = Date.now,
    readonly neighbours?: { macOf(ip: number): string | undefined },
  ) {
    this.#leases = leases;
  }
  /** Where to ask for the subnets of the segments served by proxyDHCP now. */
  setProxied(subnets: () => readonly Cidr[]): void {
    this.#proxied = subnets;
  }
  macForIp(ip: string): string | undefined {
    const n = ipNumber(ip);
    if (n === null) return undefined;
    const leased = this.#leases.boundMacAt(n, this.now());
    if (leased !== undefined) return leased;
    if (!this.#proxied().some((c) => cidrContains(c, n))) return undefined;
    return this.neighbours?.macOf(n);
  }
  /** Remembers the UUID a MAC sent in option 97 (DHCP events call this). */
  noteDhcpUuid(mac: string, uuid: string): void {
    const key = mac.toLowerCase();
    this.#uuids.delete(key);
    this.#uuids.set(key, uuid);
    if (this.#uuids.size > MAX_UUIDS) this.#uuids.delete(this.#uuids.keys().next().value!);
  }
  dhcpUuid(mac: string): string | undefined {
    return this.#uuids.get(mac.toLowerCase());
  }
  ipHoldsMac(ip: string, mac: string): boolean {
    return this.macForIp(ip) === mac.toLowerCase();
  }
}
