/**
 * @module
 * DHCP: wire codec, option accessors, client classification, the
 * authoritative responder and its lease pool (all pure). The server loop
 * (server.ts, I/O) decodes, calls `respond`, commits the returned lease
 * changes in one transaction, encodes and sends; `startDhcpService`
 * (service.ts) is what the daemon starts.
 */
export * from "./constants.ts";
export * from "./options.ts";
export * from "./option_values.ts";
export * from "./pxe_options.ts";
export * from "./packet.ts";
export * from "./client.ts";
export * from "./destination.ts";
export * from "./lease_types.ts";
export * from "./leases.ts";
export * from "./reply.ts";
export * from "./boot_reply.ts";
export * from "./authoritative.ts";
// I/O shells (sockets are opened only when started).
export {
  type DhcpResponder,
  type DhcpServerHandle,
  type DhcpServerOptions,
  type DhcpServerStats,
  type LeaseWriter,
  sendTarget,
  type ServerInterface,
  startDhcpServer,
} from "./server.ts";
export * from "./service.ts";
// The existing-DHCP probe: decisions (pure) and its raw-socket shell.
export * from "./dhcp_probe.ts";
export * from "./dhcp_probe_shell.ts";
// The central node's own DHCP client (for its address on a proxy segment).
export type { Lease as OwnLease, UnbindReason } from "./lease_client.ts";
export {
  type LeaseClientHandle,
  type LeaseClientShellOptions,
  type LeaseClientStats,
  startLeaseClient,
} from "./lease_client_shell.ts";
// proxyDHCP: the responder (pure), the PXE boot server on 4011 and the service.
export * from "./proxy.ts";
export { type BootServerHandle, startBootServer } from "./boot_server.ts";
export * from "./proxy_service.ts";
// The rogue guard: its decision (pure) and its passive watch on port 68.
export * from "./rogue_guard.ts";
export { RogueWatch, type RogueWatchOptions } from "./rogue_watch.ts";
