/**
 * @module
 * Networking: Ethernet/IPv4/UDP frame codecs for raw sockets (pure), and the
 * only code in mesh that touches sockets or FFI, rtnetlink included (links,
 * addresses and their changes). Addresses, CIDR math, byte
 * readers/writers and checksums are in src/wire.
 */
export {
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  ETH_HEADER,
  ETHERTYPE,
  IP_PROTOCOL_UDP,
  IPV4_HEADER,
  UDP_FRAME_OVERHEAD,
  UDP_HEADER,
  type UdpFrame,
} from "./ethernet.ts";
export { bpfArp, bpfDropAll, type BpfInstruction, bpfUdpDstPort, encodeBpf } from "./bpf.ts";
export { RawSocket, type RawSocketOptions } from "./raw_socket.ts";
export { type UdpDatagram, UdpSocket, type UdpSocketOptions } from "./udp_socket.ts";
export {
  getInterface,
  type InterfaceAddress,
  interfaceMac,
  joinInterfaces,
  listInterfaces,
  type NetInterface,
} from "./interfaces.ts";
export {
  addAddress,
  deleteAddress,
  type LinkAddress,
  listAddresses,
  listLinks,
  NetlinkError,
} from "./netlink_socket.ts";
export { type LinkEvent, LinkMonitor, type LinkMonitorOptions } from "./link_monitor.ts";
export type { LinkInfo } from "./netlink.ts";
export {
  type DhcpDatagram,
  DhcpTransport,
  type DhcpTransportOptions,
  type SendTarget,
  type TransportStats,
} from "./dhcp_transport.ts";
export { LibcError } from "./_libc.ts";
export {
  type HttpHandler,
  type HttpListener,
  type HttpListenerStats,
  type HttpListenOptions,
  type HttpServeInfo,
  listenHttp,
} from "./http_server.ts";
export { type FileBodyMark, fileBodyOf, markFileBody } from "./http_file_body.ts";
export { DgramSocket, type DgramSocketOptions } from "./dgram_socket.ts";
export {
  Reactor,
  type ReactorHandler,
  type ReactorIo,
  type ReactorOptions,
  Registration,
  type WatchOptions,
} from "./reactor.ts";
export { NeighbourTable, parseProcArp } from "./neighbours.ts";
export {
  createMeshLinks,
  listFloodEntries,
  type MeshLinkSpec,
  removeMeshLinks,
  setFloodEntries,
} from "./vxlan_links.ts";
export { listenMembers, type MemberListener } from "./member_listener.ts";
