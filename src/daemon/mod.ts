/**
 * @module
 * The daemon: composition root of `mesh serve`.
 */
export { type DaemonInfo, type DaemonOptions, runDaemon } from "./daemon.ts";
export { bootPaths, publicBase } from "./service_config.ts";
export { installIpxeBinaries, wantedBinaries } from "./boot_assets.ts";
export { SwappableCatalog } from "./catalog.ts";
export { SqliteLeaseLookup } from "./lease_lookup.ts";
export { defaultPool, type ServedInterface, servedInterface, ServedNet } from "./served_net.ts";
export {
  DEFAULT_SUBNET_HOLD_MS,
  type NetScan,
  type NetScanOptions,
  portState,
  scanCandidates,
  scanNetwork,
} from "./net_scan.ts";
export {
  type ControlReply,
  type ControlRequest,
  controlSocketPath,
  parseRequest,
} from "./control_protocol.ts";
export {
  ensureNodeKey,
  knownHostsPath,
  nodeKeyPaths,
  readNodePublicKey,
  unpinHostKey,
} from "./node_key.ts";
