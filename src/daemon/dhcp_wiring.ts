/**
 * @module
 * How the daemon starts DHCP on one segment: full DHCP (leases in the store,
 * node events for the registry) or proxyDHCP (boot information only), both
 * with the boot files of mesh.yaml and the address the segment reaches us at.
 */
import type { BootFilesConfig } from "../boot/mod.ts";
import type { Settings } from "../config/mod.ts";
import {
  type DhcpNodeEvent,
  type DhcpServiceOptions,
  startDhcpService,
  startProxyService,
} from "../dhcp/mod.ts";
import { type Cidr, formatIpv4 } from "../wire/mod.ts";
import type { ServedInterface } from "./served_net.ts";

export interface DhcpWiringDeps {
  readonly settings: Settings;
  readonly store: DhcpServiceOptions["store"];
  readonly signal: AbortSignal;
  /** A node event from full DHCP (DISCOVER of a boot client, ACK). */
  readonly onEvent: (ev: DhcpNodeEvent) => void;
}

/** The boot files a segment's clients get, from our address there. */
export function bootFilesFor(settings: Settings) {
  return (_segment: string, serverIp: number): BootFilesConfig => ({
    tftpServer: serverIp,
    httpBase: `http://${formatIpv4(serverIp)}${
      settings.http.port === 80 ? "" : `:${settings.http.port}`
    }`,
    bios: settings.boot.bios,
    efiX64: settings.boot.efiX64,
    efiX64Snp: settings.boot.efiX64Snp,
    ...(settings.boot.efiArm64 ? { efiArm64: settings.boot.efiArm64 } : {}),
    bootScriptPath: "/boot.ipxe",
  });
}

/** The two starters ServedNet calls. */
export function dhcpStarters(deps: DhcpWiringDeps) {
  const { settings } = deps;
  const boot = bootFilesFor(settings);
  const startDhcp = (s: ServedInterface) =>
    startDhcpService({
      interfaces: [{
        name: s.name,
        serverIp: s.serverIp,
        subnet: s.subnet,
        pool: s.pool,
        routers: [...s.routers],
        dns: [...s.dns],
        ...(settings.dhcp.domain !== undefined ? { domain: settings.dhcp.domain } : {}),
        leaseTime: settings.dhcp.leaseTime,
      }],
      reservations: settings.dhcp.reservations.map((r) => ({ ...r })),
      boot,
      store: deps.store,
      signal: deps.signal,
      onEvent: deps.onEvent,
    });
  const startProxy = (s: { name: string; serverIp: number; subnet: Cidr }) =>
    startProxyService({
      interfaces: [{ name: s.name, serverIp: s.serverIp, subnet: s.subnet }],
      boot,
      strategies: { bios: settings.dhcp.proxyBios, uefi: settings.dhcp.proxyUefi },
      signal: deps.signal,
    });
  return { startDhcp, startProxy };
}
