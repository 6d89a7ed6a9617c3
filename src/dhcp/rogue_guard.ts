/**
 * @module
 * The rogue guard's decision (pure): is a DHCP reply heard on a segment we
 * serve from another address server? mesh must never fight another DHCP
 * server: the moment one hands out addresses on a segment of ours, that
 * segment is no longer ours to serve in full. Only OFFERs and ACKs that hand
 * out an address count; a proxyDHCP (yiaddr 0, "PXEClient") or an ACK to an
 * INFORM hands out none, and our own replies are ours.
 */
import { formatIpv4, formatMac } from "../wire/mod.ts";
import { MessageType, Op } from "./constants.ts";
import { getMessageType, getServerId, getVendorClass } from "./option_values.ts";
import type { DhcpPacket } from "./packet.ts";

/** What to do when another server is seen on a served segment (`dhcp.rogue_action`). */
export const RogueAction = {
  /** Serve proxyDHCP there instead (the default). */
  Switch: "switch",
  /** Stop serving DHCP there at all. */
  Stop: "stop",
  /** Log and record only. */
  Warn: "warn",
} as const;
export type RogueAction = typeof RogueAction[keyof typeof RogueAction];

/** Another server handing out an address. */
export interface ForeignServer {
  /** Option 54, else the IP source of the frame. */
  readonly serverId: string;
  readonly serverMac: string;
  readonly message: "offer" | "ack";
  /** The address it handed out. */
  readonly yiaddr: string;
  /** To whom (chaddr). */
  readonly client: string;
}

export type ForeignVerdict =
  | { readonly foreign: ForeignServer }
  | { readonly ignore: ForeignIgnore };

export type ForeignIgnore =
  | "not-reply"
  | "not-offer-or-ack"
  | "no-address"
  | "proxy"
  | "ours";

/** Our side of the segment: the addresses and MACs our replies come from. */
export interface OwnServer {
  readonly ips: ReadonlySet<number>;
  /** Lower-case colon form. */
  readonly macs: ReadonlySet<string>;
}

/** Classifies one reply heard on a served segment (frame source MAC and IP given). */
export function classifyReply(
  pkt: DhcpPacket,
  frame: { readonly srcMac: Uint8Array; readonly srcIp: number },
  own: OwnServer,
): ForeignVerdict {
  if (pkt.op !== Op.BootReply) return { ignore: "not-reply" };
  const type = getMessageType(pkt.options);
  if (type !== MessageType.Offer && type !== MessageType.Ack) return { ignore: "not-offer-or-ack" };
  const serverId = getServerId(pkt.options) ?? frame.srcIp;
  const serverMac = formatMac(frame.srcMac);
  if (own.macs.has(serverMac) || own.ips.has(serverId)) return { ignore: "ours" };
  if (pkt.yiaddr === 0) {
    // A proxyDHCP offer or an ACK to an INFORM: no address handed out.
    return {
      ignore: (getVendorClass(pkt.options) ?? "").startsWith("PXEClient") ? "proxy" : "no-address",
    };
  }
  return {
    foreign: {
      serverId: formatIpv4(serverId),
      serverMac,
      message: type === MessageType.Offer ? "offer" : "ack",
      yiaddr: formatIpv4(pkt.yiaddr),
      client: formatMac(pkt.chaddr),
    },
  };
}
