/**
 * @module
 * Reply assembly shared by the responders: the header skeleton (xid, chaddr,
 * flags, giaddr echoed), option order (mandatory first, then the client's
 * option 55 order, option 82 last) and fitting into the client's maximum
 * message size (option 57, default 576). Pure.
 */
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  FLAG_BROADCAST,
  IP_UDP_HEADER_LENGTH,
  MessageType,
  Op,
  Opt,
} from "./constants.ts";
import { getMaxMessageSize, ipValue, u8Value } from "./option_values.ts";
import { packetLength } from "./packet.ts";
import type { DhcpPacket } from "./packet.ts";

/** What a responder wants in a reply besides the echoed request fields. */
export interface ReplyParts {
  readonly type: number;
  readonly serverId: number;
  readonly yiaddr?: number;
  readonly ciaddr?: number;
  readonly siaddr?: number;
  readonly sname?: string;
  readonly file?: string;
  /** Options other than 53 and 54, in any order. */
  readonly options: readonly (readonly [number, Uint8Array])[];
}

/** Options always placed first, in this order (RFC 2131 requires 53/54; lease times next). */
const LEADING: readonly number[] = [
  Opt.MessageType,
  Opt.ServerIdentifier,
  Opt.IpAddressLeaseTime,
  Opt.RenewalTime,
  Opt.RebindingTime,
];

/** Dropped first to last when a reply does not fit the client's size limit. */
const DROPPABLE: readonly number[] = [
  Opt.IpxeEncapsulated,
  Opt.DomainName,
  Opt.Hostname,
  Opt.BroadcastAddress,
  Opt.Message,
  Opt.DomainNameServer,
  Opt.TftpServerName,
];

/** Largest DHCP payload the client accepts (option 57 minus IP/UDP headers). */
export function maxReplyLength(req: DhcpPacket): number {
  const asked = getMaxMessageSize(req.options);
  // RFC 2132 §9.10: the minimum legal value is 576; smaller values are ignored.
  const size = asked !== undefined && asked >= DEFAULT_MAX_MESSAGE_SIZE
    ? asked
    : DEFAULT_MAX_MESSAGE_SIZE;
  return size - IP_UDP_HEADER_LENGTH;
}

const IS_LEADING: readonly boolean[] = (() => {
  const t: boolean[] = new Array(256).fill(false);
  for (const c of LEADING) t[c] = true;
  return t;
})();

function orderOptions(
  req: DhcpPacket,
  opts: Map<number, Uint8Array>,
): Map<number, Uint8Array> {
  // Runs for every reply: rank by a 256-entry table, not Maps and spreads.
  const prl = req.options.get(Opt.ParameterRequestList);
  const rank = new Array<number>(256).fill(1e6);
  if (prl !== undefined) {
    for (let i = prl.length - 1; i >= 0; i--) rank[prl[i]!] = i; // first mention wins
  }
  const rest: number[] = [];
  for (const c of opts.keys()) {
    if (!IS_LEADING[c] && c !== Opt.RelayAgentInformation) rest.push(c);
  }
  rest.sort((a, b) => rank[a]! - rank[b]!);
  const out = new Map<number, Uint8Array>();
  for (const c of LEADING) {
    const v = opts.get(c);
    if (v !== undefined) out.set(c, v);
  }
  for (const c of rest) out.set(c, opts.get(c)!);
  const agent = opts.get(Opt.RelayAgentInformation);
  if (agent !== undefined) out.set(Opt.RelayAgentInformation, agent);
  return out;
}

/** Option 53 values, shared by every reply (option values are never mutated). */
const TYPE_VALUES: readonly Uint8Array[] = Array.from({ length: 256 }, (_, i) => u8Value(i));
let lastServerId = -1;
let lastServerIdValue: Uint8Array = new Uint8Array(4);

function serverIdValue(ip: number): Uint8Array {
  if (ip !== lastServerId) {
    lastServerIdValue = ipValue(ip);
    lastServerId = ip;
  }
  return lastServerIdValue;
}

/**
 * Builds a BOOTREPLY for `req`. Options that do not fit the client's size
 * limit are dropped in a fixed order (never 53, 54, lease times, boot file or 82).
 */
export function buildReply(req: DhcpPacket, parts: ReplyParts): DhcpPacket {
  const opts = new Map<number, Uint8Array>();
  opts.set(Opt.MessageType, TYPE_VALUES[parts.type & 255]!);
  opts.set(Opt.ServerIdentifier, serverIdValue(parts.serverId));
  for (const [code, v] of parts.options) opts.set(code, v);
  let options = orderOptions(req, opts);
  const limit = maxReplyLength(req);
  for (const code of DROPPABLE) {
    if (packetLength({ options }) <= limit) break;
    if (options.delete(code)) options = new Map(options);
  }
  // RFC 2131 §4.3.2: a NAK through a relay asks the relay to broadcast it.
  const flags = parts.type === MessageType.Nak && req.giaddr !== 0
    ? req.flags | FLAG_BROADCAST
    : req.flags;
  return {
    op: Op.BootReply,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags,
    ciaddr: parts.ciaddr ?? 0,
    yiaddr: parts.yiaddr ?? 0,
    siaddr: parts.siaddr ?? 0,
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: parts.sname ?? "",
    file: parts.file ?? "",
    options,
  };
}
