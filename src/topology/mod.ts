/**
 * @module
 * The network as mesh finds it (pure): which ports share a switch (ARP scan
 * sightings → segments), what each heard frame means, and which subnet each
 * served segment gets from the pool. The scan's I/O lives with the daemon;
 * nothing here sends or waits.
 */
export {
  groupSegments,
  type Heard,
  type IgnoreReason,
  markerAddress,
  MAX_SCAN_PORTS,
  ScanListener,
  type ScanPort,
  type SegmentGroup,
  segmentId,
  type Sighting,
} from "./segments.ts";
export {
  type AssignedSubnet,
  firstHost,
  MAX_SERVED_PREFIX,
  planSubnets,
  type RefusedSubnet,
  type SegmentRequest,
  type SegmentSubnet,
  type SubnetAllocation,
  type SubnetPlan,
  type SubnetPlanInput,
  type SubnetSource,
} from "./subnet_plan.ts";
export {
  buildNetMap,
  type MapEvent,
  type NeighbourSeen,
  type NetMap,
  type NetMapInput,
  type PortState,
  type PreviousSegment,
  type ProxySegment,
  type SegmentReport,
  type ServedSegment,
  type ServerSegment,
} from "./net_map.ts";
export {
  addressServers,
  configuredMode,
  decideMode,
  type ExistingDhcp,
  type ExistingServer,
  type GuardSighting,
  type ModeDecision,
  type ModeInput,
  type PortMode,
  type SegmentMode,
} from "./segment_mode.ts";
export {
  arpScan,
  type ArpScanOptions,
  type ArpScanResult,
  type ArpScanTimings,
  type Neighbour,
  SCAN_DEFAULTS,
  type ScanIgnore,
  scanTimings,
} from "./arp_scan.ts";
