/**
 * @module
 * Where a reply goes (RFC 2131 §4.1), decided from the request and the reply
 * message type. Pure.
 */
import { DHCP_SERVER_PORT, MessageType } from "./constants.ts";
import { clientMac, type DhcpPacket, wantsBroadcast } from "./packet.ts";

/**
 * - relay: to the relay agent's giaddr, server port 67.
 * - unicast: IP unicast to ciaddr (the client has a working address).
 * - broadcast: 255.255.255.255 to port 68 on the ingress link.
 * - link: L2 unicast to chaddr with IP destination yiaddr (a client without an
 *   address that can receive unicast); a transport without raw sockets may
 *   fall back to broadcast.
 */
export type Destination =
  | { readonly kind: "relay"; readonly ip: number; readonly port: typeof DHCP_SERVER_PORT }
  | { readonly kind: "unicast"; readonly ip: number; readonly mac: string }
  | { readonly kind: "broadcast" }
  | { readonly kind: "link"; readonly mac: string; readonly ip: number };

/** RFC 2131 §4.1 destination of `reply` (of type `type`) to `req`. */
export function replyDestination(
  req: Pick<DhcpPacket, "giaddr" | "ciaddr" | "flags" | "chaddr">,
  reply: Pick<DhcpPacket, "yiaddr">,
  type: number,
): Destination {
  if (req.giaddr !== 0) return { kind: "relay", ip: req.giaddr, port: DHCP_SERVER_PORT };
  // A NAK goes to everyone: the client's idea of its address is wrong.
  if (type === MessageType.Nak) return { kind: "broadcast" };
  if (req.ciaddr !== 0) return { kind: "unicast", ip: req.ciaddr, mac: clientMac(req) };
  if (wantsBroadcast(req) || reply.yiaddr === 0) return { kind: "broadcast" };
  return { kind: "link", mac: clientMac(req), ip: reply.yiaddr };
}
