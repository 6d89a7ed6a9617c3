/**
 * @module
 * Is there another IPv6 router on this link? mesh sends router
 * advertisements on a segment another DHCP server owns only where nobody
 * else does (it must never take over a network's IPv6), so before it
 * starts it solicits: a router answers a Router Solicitation at once
 * (RFC 4861 §6.2.6), where its unsolicited RAs may be minutes apart.
 */
import { DecodeError } from "../errors.ts";
import { type BpfInstruction, RawSocket } from "../net/mod.ts";
import { macToBytes } from "../wire/mod.ts";
import {
  decodeRaFrame,
  encodeRsFrame,
  ETHERTYPE_IPV6,
  ICMPV6_TYPE,
  IP_PROTOCOL_ICMPV6,
  linkLocalFromMac,
} from "./packet.ts";

/** IPv6, ICMPv6 with no extension headers, Router Advertisement. */
function bpfRouterAdvertisement(): readonly BpfInstruction[] {
  return [
    { code: 0x28, jt: 0, jf: 0, k: 12 }, // ldh [12]      ethertype
    { code: 0x15, jt: 0, jf: 5, k: ETHERTYPE_IPV6 },
    { code: 0x30, jt: 0, jf: 0, k: 20 }, // ldb [20]      next header
    { code: 0x15, jt: 0, jf: 3, k: IP_PROTOCOL_ICMPV6 },
    { code: 0x30, jt: 0, jf: 0, k: 54 }, // ldb [54]      ICMPv6 type
    { code: 0x15, jt: 0, jf: 1, k: ICMPV6_TYPE.routerAdvertisement },
    { code: 0x06, jt: 0, jf: 0, k: 0x40000 },
    { code: 0x06, jt: 0, jf: 0, k: 0 },
  ];
}

/**
 * Sends a Router Solicitation from `ifname` and waits up to `waitMs` for a
 * valid RA from anyone but us. True when another router answered.
 */
export async function otherRouterAnswers(
  ifname: string,
  mac: string,
  waitMs = 1500,
): Promise<boolean> {
  using sock = RawSocket.open(ifname, bpfRouterAdvertisement());
  const ours = macToBytes(mac);
  const rs = encodeRsFrame(ours, linkLocalFromMac(ours)) as Uint8Array<ArrayBuffer>;
  sock.send(rs);
  const deadline = performance.now() + waitMs;
  for (let left = waitMs; left > 0; left = deadline - performance.now()) {
    for (let f = sock.tryRecv(); f; f = sock.tryRecv()) {
      try {
        // Our own RAs never reach this socket (outgoing frames are ignored).
        if (decodeRaFrame(f) !== null) return true;
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e; // a malformed RA proves no router
      }
    }
    await sock.wait(Math.max(1, Math.ceil(left)));
  }
  return false;
}
