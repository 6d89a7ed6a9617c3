/**
 * @module
 * The /host0 model: `loadHost0(dir)` reads and validates the whole tree and
 * throws one ConfigError listing every problem (file:line); the pure parsers
 * are exported for `mesh config check` and tests.
 */
export * from "./types.ts";
export { loadHost0, loadSettings } from "./load.ts";
export { DEFAULTS, parseMeshYaml } from "./parse_mesh_yaml.ts";
export {
  checkServedSubnets,
  formatProblem,
  pinnedSubnet,
  type ServedSubnet,
  type SettingsProblem,
  type SubnetSettings,
} from "./subnet_checks.ts";
export { type LegacyConf, parseHost0Conf } from "./parse_host0_conf.ts";
export {
  contentLines,
  isPackageSpec,
  parseCmdlineFile,
  type Parsed,
  parseGroupsFile,
  parsePackagesFile,
  parseUuidFile,
} from "./parse_lists.ts";
export {
  checkNetworks,
  DEFAULT_MESH_MTU,
  DEFAULT_MESH_PORT,
  DEFAULT_NETWORK,
  derivedVni,
  formatIpv6,
  type NetworkContext,
  parseIpv6,
  parseNetworkConf,
} from "./parse_network.ts";
export { mapSource, parseManifest, parseMode } from "./manifest.ts";
export { parseMemorySize, parseVolumeSource, parseWorkloadConf } from "./parse_workload.ts";
export { checkWorkloads, loadWorkloads, meshBridge } from "./load_workloads.ts";
export {
  ALPINE_GROUP_NAMES,
  ALPINE_GROUPS,
  ALPINE_USER_NAMES,
  ALPINE_USERS,
} from "./alpine_ids.ts";
export { closest, editDistance } from "./suggest.ts";
export { joinPath, normaliseAbsolute } from "./paths.ts";
