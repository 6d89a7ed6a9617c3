/**
 * @module
 * The network as mesh finds it (pure): which ports share a switch (ARP scan
 * sightings → segments) and what each heard frame means. The scan's I/O
 * lives with the daemon; nothing here sends or waits.
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
