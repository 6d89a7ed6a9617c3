/**
 * @module
 * DHCP wire constants: ports, sizes, the magic cookie, message types and
 * option codes (names from the IANA "BOOTP Vendor Extensions and DHCP
 * Options" registry). Pure data.
 */

/** Server port (RFC 2131): where DISCOVER/REQUEST arrive and relays send. */
export const DHCP_SERVER_PORT = 67;
/** Client port (RFC 2131): where replies to clients go. */
export const DHCP_CLIENT_PORT = 68;
/** PXE boot server port: UEFI firmware sends its REQUEST here in proxy mode. */
export const PXE_SERVER_PORT = 4011;

/** RFC 2131 magic cookie 99.130.83.99 that precedes the options. */
export const MAGIC_COOKIE = 0x63825363;

/** Fixed BOOTP header length, up to (not including) the cookie. */
export const BOOTP_HEADER_LENGTH = 236;
/** Shortest DHCP message we accept: the fixed header plus the cookie. */
export const MIN_DHCP_LENGTH = 240;
/** Encoded packets are padded to this size: some firmware drops shorter BOOTP replies. */
export const MIN_BOOTP_LENGTH = 300;
/** Maximum message size a client accepts when it sends no option 57 (RFC 2131 §2). */
export const DEFAULT_MAX_MESSAGE_SIZE = 576;
/** IPv4 (20) + UDP (8) headers that option 57 includes but the DHCP payload does not. */
export const IP_UDP_HEADER_LENGTH = 28;

/** Field sizes inside the fixed header. */
export const CHADDR_LENGTH = 16;
export const SNAME_LENGTH = 64;
export const FILE_LENGTH = 128;
/** Byte offsets of the variable fields, used for overload decoding and error offsets. */
export const SNAME_OFFSET = 44;
export const FILE_OFFSET = 108;
export const COOKIE_OFFSET = 236;

/** BOOTP op codes. */
export const Op = {
  BootRequest: 1,
  BootReply: 2,
} as const;
export type Op = typeof Op[keyof typeof Op];

/** Hardware type 1 = Ethernet (ARP hardware types). */
export const HTYPE_ETHERNET = 1;

/** The broadcast bit of the `flags` field (RFC 2131 §2, figure 2). */
export const FLAG_BROADCAST = 0x8000;

/** Option 53 values (RFC 2132 §9.6). */
export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type MessageType = typeof MessageType[keyof typeof MessageType];

/** Message type number → name, for logs. */
export function messageTypeName(t: number | undefined): string {
  // Every reply's reason names its type: a table, not a search.
  const name = t === undefined ? undefined : MESSAGE_TYPE_NAMES[t];
  if (name !== undefined) return name;
  return t === undefined ? "BOOTP" : `TYPE${t}`;
}

const MESSAGE_TYPE_NAMES: readonly (string | undefined)[] = (() => {
  const names: (string | undefined)[] = [];
  for (const [name, v] of Object.entries(MessageType)) names[v] = name.toUpperCase();
  return names;
})();

/** Option codes used by mesh, named after the IANA registry. */
export const Opt = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainNameServer: 6,
  Hostname: 12,
  DomainName: 15,
  BroadcastAddress: 28,
  VendorSpecific: 43,
  RequestedIpAddress: 50,
  IpAddressLeaseTime: 51,
  OptionOverload: 52,
  MessageType: 53,
  ServerIdentifier: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassIdentifier: 60,
  ClientIdentifier: 61,
  TftpServerName: 66,
  BootfileName: 67,
  UserClass: 77,
  RelayAgentInformation: 82,
  ClientSystemArchitecture: 93,
  ClientNetworkInterface: 94,
  ClientMachineIdentifier: 97,
  IpxeEncapsulated: 175,
  End: 255,
} as const;
export type Opt = typeof Opt[keyof typeof Opt];

/** Option 52 values: which header fields carry extra options (RFC 2132 §9.3). */
export const Overload = {
  File: 1,
  Sname: 2,
  Both: 3,
} as const;

/** PXE sub-options inside option 43 (PXE 2.1 spec, table 2-1). */
export const PxeSubOpt = {
  DiscoveryControl: 6,
  BootServers: 8,
  BootMenu: 9,
  MenuPrompt: 10,
  BootItem: 71,
  End: 255,
} as const;

/** iPXE sub-options inside option 175 that mesh reads or sends. */
export const IpxeSubOpt = {
  /** Set to 1 by the server: "do not wait for ProxyDHCP offers" (saves ~2 s per boot). */
  NoPxeDhcp: 176,
  /** iPXE feature flags the client advertises (presence = capability). */
  Http: 19,
  Https: 20,
  Efi: 36,
  BusId: 177,
  Version: 235,
} as const;

/**
 * Client system architecture types (option 93, IANA registry after the 2016
 * RFC 4578 errata: 7 = x64 UEFI, 9 = EBC, but firmware sends 9 for x64 too).
 */
export const Arch = {
  X86Bios: 0,
  X86Uefi: 6,
  X64Uefi: 7,
  Ebc: 9,
  Arm32Uefi: 10,
  Arm64Uefi: 11,
  X86UefiHttp: 15,
  X64UefiHttp: 16,
  EbcHttp: 17,
  Arm32UefiHttp: 18,
  Arm64UefiHttp: 19,
  X86BiosHttp: 20,
} as const;
export type Arch = typeof Arch[keyof typeof Arch];
