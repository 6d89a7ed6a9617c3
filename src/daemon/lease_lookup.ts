/**
 * @module
 * Answers the HTTP service's "does this address hold a lease for that MAC?"
 * from the leases table (through the LeaseStore). Leases are committed before their ACK leaves, so a
 * node that fetches its overlay right after DHCP is already in the table.
 */
import type { LeaseLookup } from "../http/mod.ts";
import type { LeaseStore } from "../store/mod.ts";
import { parseIpv4 } from "../wire/mod.ts";

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
  constructor(leases: Pick<LeaseStore, "boundMacAt">, readonly now: () => number = Date.now) {
    this.#leases = leases;
  }
  macForIp(ip: string): string | undefined {
    const n = ipNumber(ip);
    if (n === null) return undefined;
    return this.#leases.boundMacAt(n, this.now());
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
