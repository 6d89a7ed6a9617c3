/**
 * @module
 * Lease rows (the shape of the `leases` table, camelCase as in
 * store/lease_store.ts so changes pass straight through), the identity of a
 * client and pool settings. Pure types.
 */
import type { Cidr } from "../wire/mod.ts";

/** Persisted lease states. Offers are never persisted. */
export const LeaseState = {
  Bound: "bound",
  Released: "released",
  Expired: "expired",
  Declined: "declined",
} as const;
export type LeaseState = typeof LeaseState[keyof typeof LeaseState];

/**
 * One row of the leases table. A LeaseChange is an upsert by `ip`; the I/O
 * loop commits all changes of a decision before sending its reply.
 */
export interface LeaseChange {
  /** IPv4 as unsigned 32-bit number (the primary key). */
  readonly ip: number;
  /** Canonical lower-case colon MAC (chaddr). */
  readonly mac: string;
  /** Option 61 as lower-case hex, null when absent. */
  readonly clientId: string | null;
  /** 8-hex mesh node id when known. */
  readonly nodeId: string | null;
  /** Option 12 when sent (or the reserved host name). */
  readonly hostname: string | null;
  readonly state: LeaseState;
  /** Unix ms. */
  readonly startsAt: number;
  /** Unix ms; for released rows the release time, for declined rows the end of quarantine. */
  readonly expiresAt: number;
  /** Name of the interface/segment serving it. */
  readonly segment: string;
  /** Unix ms. */
  readonly updatedAt: number;
}

/** A row read back from the database. */
export type LeaseRow = LeaseChange;

/** Who is asking, as the pool sees it. */
export interface LeaseClient {
  readonly mac: string;
  /** Option 61 hex, stored with the lease (the MAC identifies the client: see clientKey). */
  readonly clientId: string | null;
  /** Node ids the client may have (from its SMBIOS UUID, from its MAC), best first. */
  readonly nodeIds: readonly string[];
  readonly hostname: string | null;
}

/** A fixed address (same shape as config's Reservation). */
export interface PoolReservation {
  readonly ip: number;
  readonly mac?: string;
  /** 8-hex node id. */
  readonly node?: string;
  readonly hostname?: string;
}

/** Settings of one segment's pool. */
export interface PoolConfig {
  readonly segment: string;
  readonly subnet: Cidr;
  /** First and last dynamic address (inclusive). */
  readonly rangeStart: number;
  readonly rangeEnd: number;
  readonly reservations?: readonly PoolReservation[];
  /** Addresses never handed out: the server's own, the router, anything static. */
  readonly excluded?: readonly number[];
  /** How long an offered address stays held for its client (default 30 s). */
  readonly offerTimeoutMs?: number;
  /** How long a declined or conflicting address is quarantined (default 10 min). */
  readonly declineQuarantineMs?: number;
}

/** Where an offered address came from, for debug logs. */
export type OfferSource =
  | "offer"
  | "reservation"
  | "current"
  | "requested"
  | "fresh"
  | "reused";

/** An address held for a client. `probe` = never seen in use: ARP-probe it before offering. */
export interface Allocation {
  readonly ip: number;
  readonly source: OfferSource;
  readonly probe: boolean;
  /** Host name from a reservation. */
  readonly hostname?: string;
}

/**
 * The key that identifies a client's leases: its hardware address. RFC 2131
 * prefers option 61 when sent, but one netbooted machine speaks DHCP through
 * up to three clients in one boot — firmware PXE (often no option 61), iPXE
 * and the initramfs' udhcpc (option 61 = 01:<mac>) — and keying by client id
 * would give it a new address in each phase (seen with OVMF: .101 in
 * firmware, .102 in Linux), waste the pool in a boot storm and break "the
 * same machine gets the same address back". The client id is still stored.
 */
export function clientKey(c: { readonly mac: string; readonly clientId: string | null }): string {
  return `mac:${c.mac}`;
}
