/**
 * @module
 * Which interfaces the daemon serves DHCP on, with address, subnet and pool.
 * For now these come from mesh.yaml (`mode: server`); the topology issue will
 * add discovery for `auto`. `planServerInterfaces` is pure.
 */
import type { InterfaceSettings, Settings } from "../config/mod.ts";
import type { NetInterface } from "../net/mod.ts";
import {
  type Cidr,
  cidrBroadcast,
  cidrContains,
  formatCidr,
  formatIpv4,
  prefixMask,
} from "../wire/mod.ts";

/** One interface served by our own DHCP server. */
export interface ServedInterface {
  readonly name: string;
  readonly serverIp: number;
  readonly subnet: Cidr;
  readonly pool: { readonly start: number; readonly end: number };
  readonly routers: readonly number[];
  readonly dns: readonly number[];
}

/** An interface the daemon will not serve, and why (logged at start). */
export interface SkippedInterface {
  readonly name: string;
  readonly reason: string;
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

/**
 * Plans DHCP service from mesh.yaml and the machine's interfaces. Errors
 * (an interface that does not exist, no address, pool outside the subnet)
 * are returned as strings naming the interface, so start-up can refuse with
 * one clear line.
 */
export function planServerInterfaces(
  settings: Settings,
  present: readonly NetInterface[],
): { served: ServedInterface[]; skipped: SkippedInterface[]; errors: string[] } {
  const served: ServedInterface[] = [];
  const skipped: SkippedInterface[] = [];
  const errors: string[] = [];
  for (const cfg of Object.values(settings.interfaces) as InterfaceSettings[]) {
    if (cfg.mode !== "server") {
      skipped.push({
        name: cfg.name,
        reason: cfg.mode === "off"
          ? "mode off"
          : `mode ${cfg.mode} is not served yet (use mode: server)`,
      });
      continue;
    }
    const nic = present.find((i) => i.name === cfg.name);
    if (!nic) {
      errors.push(
        `interface ${cfg.name} (mesh.yaml interfaces.${cfg.name}) does not exist on this machine`,
      );
      continue;
    }
    const addr = cfg.address ?? nic.ipv4[0];
    if (!addr) {
      errors.push(
        `interface ${cfg.name} has no IPv4 address: set interfaces.${cfg.name}.address in mesh.yaml`,
      );
      continue;
    }
    const ip = addr.ip;
    const subnet = cfg.subnet ??
      { network: (ip & prefixMask(addr.prefix)) >>> 0, prefix: addr.prefix };
    if (!cidrContains(subnet, ip)) {
      errors.push(
        `interface ${cfg.name}: address ${formatIpv4(ip)} is outside subnet ${formatCidr(subnet)}`,
      );
      continue;
    }
    if (cfg.address && !nic.ipv4.some((a) => a.ip === ip)) {
      errors.push(
        `interface ${cfg.name}: address ${
          formatIpv4(ip)
        } from mesh.yaml is not configured on it (ip addr add ${
          formatIpv4(ip)
        }/${addr.prefix} dev ${cfg.name})`,
      );
      continue;
    }
    const pool = cfg.pool ?? defaultPool(subnet);
    if (
      !cidrContains(subnet, pool.start) || !cidrContains(subnet, pool.end) || pool.start > pool.end
    ) {
      errors.push(
        `interface ${cfg.name}: pool ${formatIpv4(pool.start)}-${
          formatIpv4(pool.end)
        } is not inside ${formatCidr(subnet)}`,
      );
      continue;
    }
    served.push({
      name: cfg.name,
      serverIp: ip,
      subnet,
      pool,
      routers: cfg.router !== undefined ? [cfg.router] : [],
      dns: cfg.dns ?? settings.dhcp.dns,
    });
  }
  return { served, skipped, errors };
}
