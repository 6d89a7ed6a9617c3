/**
 * @module
 * Local network interfaces: name, index, MAC, link state and IPv4 addresses,
 * read over rtnetlink (netlink_socket.ts; no subprocess), and a link's MAC
 * from /sys/class/net for the callers that need it synchronously.
 */
import { type Cidr, formatMac, type MacAddress, parseMac, prefixMask } from "../wire/mod.ts";
import { type LinkAddress, listAddresses, listLinks } from "./netlink_socket.ts";
import type { LinkInfo } from "./netlink.ts";

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
  /** All zeros for a link without an Ethernet address (tun, ipip). */
  readonly mac: MacAddress;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** The link layer has carrier (IFF_LOWER_UP). */
  readonly carrier: boolean;
  readonly mtu: number;
  /** "veth", "bridge", "vxlan", ...; null for a plain NIC. */
  readonly kind: string | null;
  readonly loopback: boolean;
  readonly ethernet: boolean;
  readonly speedMbps: number | null;
  /** ifindex of the bridge or bond it is enslaved to. */
  readonly master: number | null;
  /** Primary addresses first, as the kernel lists them. */
  readonly ipv4: readonly InterfaceAddress[];
}

const NO_MAC: MacAddress = "00:00:00:00:00:00";

/** Joins links and addresses by ifindex. Pure. */
export function joinInterfaces(
  links: readonly LinkInfo[],
  addresses: readonly LinkAddress[],
): NetInterface[] {
  return links.map((l) => ({
    name: l.name,
    ifindex: l.ifindex,
    mac: l.mac ?? NO_MAC,
    up: l.up,
    carrier: l.carrier,
    mtu: l.mtu,
    kind: l.kind,
    loopback: l.loopback,
    ethernet: l.ethernet,
    speedMbps: l.speedMbps,
    master: l.master,
    ipv4: addresses.filter((a) => a.ifindex === l.ifindex).map((a) => ({
      ip: a.ip,
      prefix: a.prefix,
      subnet: { network: (a.ip & prefixMask(a.prefix)) >>> 0, prefix: a.prefix },
    })),
  }));
}

/** All interfaces of the current network namespace. */
export async function listInterfaces(): Promise<NetInterface[]> {
  const [links, addresses] = await Promise.all([listLinks(), listAddresses()]);
  return joinInterfaces(links, addresses);
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
