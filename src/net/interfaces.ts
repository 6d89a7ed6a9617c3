/**
 * @module
 * Local network interfaces: name, index, MAC and IPv4 addresses, read from
 * /sys/class/net and `ip -j addr` (iproute2 is present wherever mesh runs).
 */
import {
  type Cidr,
  formatMac,
  type MacAddress,
  parseIpv4,
  parseMac,
  prefixMask,
} from "../wire/mod.ts";

/** One IPv4 address on an interface. */
export interface InterfaceAddress {
  /** u32 address. */
  readonly ip: number;
  readonly prefix: number;
  /** The network it belongs to. */
  readonly subnet: Cidr;
}

export interface NetInterface {
  readonly name: string;
  readonly ifindex: number;
  readonly mac: MacAddress;
  readonly up: boolean;
  readonly ipv4: readonly InterfaceAddress[];
}

interface IpJsonAddr {
  ifname?: string;
  ifindex?: number;
  address?: string;
  flags?: string[];
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

/** Parses `ip -j addr` output. Pure. */
export function parseIpJson(text: string): NetInterface[] {
  const rows = JSON.parse(text) as IpJsonAddr[];
  const out: NetInterface[] = [];
  for (const r of rows) {
    if (!r.ifname || r.ifindex === undefined) continue;
    let mac = "00:00:00:00:00:00";
    try {
      if (r.address) mac = parseMac(r.address);
    } catch { /* not Ethernet (tun, ipip): keep zeros */ }
    const ipv4: InterfaceAddress[] = [];
    for (const a of r.addr_info ?? []) {
      if (a.family !== "inet" || !a.local || a.prefixlen === undefined) continue;
      const ip = parseIpv4(a.local);
      ipv4.push({
        ip,
        prefix: a.prefixlen,
        subnet: { network: (ip & prefixMask(a.prefixlen)) >>> 0, prefix: a.prefixlen },
      });
    }
    out.push({ name: r.ifname, ifindex: r.ifindex, mac, up: (r.flags ?? []).includes("UP"), ipv4 });
  }
  return out;
}

/** All interfaces of the current network namespace. */
export async function listInterfaces(): Promise<NetInterface[]> {
  const out = await new Deno.Command("ip", {
    args: ["-j", "addr", "show"],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`ip -j addr failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return parseIpJson(new TextDecoder().decode(out.stdout));
}

/** One interface by name; throws when it does not exist. */
export async function getInterface(name: string): Promise<NetInterface> {
  const found = (await listInterfaces()).find((i) => i.name === name);
  if (!found) throw new Error(`no such interface: ${name}`);
  return found;
}

/** MAC of an interface from sysfs (synchronous; no subprocess). */
export function interfaceMac(name: string): MacAddress {
  return parseMac(Deno.readTextFileSync(`/sys/class/net/${name}/address`).trim());
}

export { formatMac };
