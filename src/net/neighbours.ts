/**
 * @module
 * The kernel's IPv4 neighbour (ARP) table, read from /proc/net/arp: on a
 * segment another server hands the addresses out on, this is where mesh
 * learns which MAC an address belongs to (the kernel resolved it to answer
 * that host). Read synchronously (the HTTP access check is synchronous) and
 * at most once per `maxAgeMs`, so a burst of requests costs one read.
 */
import { parseIpv4 } from "../wire/mod.ts";

/** ATF_COM: the entry is resolved. */
const ATF_COM = 0x2;

/** Parses /proc/net/arp: resolved entries, IP (u32) → lower-case MAC. Pure. */
export function parseProcArp(text: string): Map<number, { mac: string; device: string }> {
  const out = new Map<number, { mac: string; device: string }>();
  for (const line of text.split("\n").slice(1)) {
    const [ip, , flags, mac, , device] = line.trim().split(/\s+/);
    if (ip === undefined || mac === undefined || device === undefined || flags === undefined) {
      continue;
    }
    if ((Number.parseInt(flags, 16) & ATF_COM) === 0 || mac === "00:00:00:00:00:00") continue;
    try {
      out.set(parseIpv4(ip), { mac: mac.toLowerCase(), device });
    } catch { /* not an address: skip the line */ }
  }
  return out;
}

/**
 * Cached reads of the neighbour table. An address missing from a snapshot
 * older than `missAgeMs` reads the table again: a host that just resolved
 * mesh (its first HTTP request) is in the kernel's table but not in a
 * snapshot taken a moment before, which happens when nodes boot together.
 */
export class NeighbourTable {
  #table = new Map<number, { mac: string; device: string }>();
  #readAt = -Infinity;
  constructor(
    readonly maxAgeMs = 1000,
    readonly read: () => string = () => Deno.readTextFileSync("/proc/net/arp"),
    readonly missAgeMs = 20,
  ) {}

  #refresh(now: number): void {
    try {
      this.#table = parseProcArp(this.read());
    } catch {
      this.#table = new Map();
    }
    this.#readAt = now;
  }

  /** The MAC the kernel resolved `ip` to, if any. */
  macOf(ip: number): string | undefined {
    const now = performance.now();
    if (now - this.#readAt > this.maxAgeMs) this.#refresh(now);
    const hit = this.#table.get(ip)?.mac;
    if (hit !== undefined || now - this.#readAt <= this.missAgeMs) return hit;
    this.#refresh(now);
    return this.#table.get(ip)?.mac;
  }
}
