/**
 * @module
 * IPv6 Router Advertisements (RFC 4861) on the segments mesh serves, so
 * iPXE's IPv6 autoconfiguration ends at once instead of waiting ~16 s for a
 * router that a PXE segment does not have. mesh advertises itself as a
 * non-default router (router lifetime 0) with no prefix unless configured
 * with one: it never takes over a network's IPv6 routing. The codec is pure
 * (packet.ts); the advertiser is the raw-socket shell in the reactor.
 */
export {
  ALL_NODES,
  ALL_ROUTERS,
  decodeRaFrame,
  decodeRsFrame,
  encodeRa,
  encodeRaFrame,
  encodeRsFrame,
  formatIpv6,
  icmpv6Checksum,
  INFINITE_LIFETIME,
  type Ipv6Addresses,
  linkLocalFromMac,
  multicastMac,
  parseIpv6,
  parseIpv6Prefix,
  type PrefixInfo,
  type RouterAdvertisement,
  type RouterSolicitation,
  type RsDecoded,
  type RsIgnore,
} from "./packet.ts";
export {
  advertisementOf,
  bpfRouterSolicitation,
  RA_DEFAULTS,
  type RaIgnore,
  type RaPrefixOptions,
  RouterAdvertiser,
  type RouterAdvertiserOptions,
} from "./advertiser.ts";
export { otherRouterAnswers } from "./router_check.ts";
