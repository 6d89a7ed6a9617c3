/**
 * @module
 * The proxyDHCP responder (PXE 2.1 spec, "ProxyDHCP") and the PXE boot
 * server on UDP 4011 (pure). On a segment whose addresses come from another
 * DHCP server, mesh only adds the boot information, like dnsmasq's
 * `dhcp-range=…,proxy`, Pixiecore and smee: every reply has yiaddr 0.0.0.0,
 * and no decision ever carries a lease change.
 *
 * Port 67:
 * - DISCOVER from a network boot client → proxy OFFER: option 54 and siaddr
 *   are us, option 60 "PXEClient" ("HTTPClient" for UEFI HTTP boot), option
 *   97 echoed. What else goes in depends on the client:
 *   - iPXE: the HTTP boot-script URL (the chainload loop is broken here).
 *   - UEFI HTTP boot: the http:// URL of the iPXE binary.
 *   - PXE firmware, per its strategy (BIOS and UEFI each configurable):
 *     "option43": option 43 sub-option 6 = 8 ("no discovery, boot the file
 *     in this reply") and the file; "port4011": neither, so the firmware
 *     sends a REQUEST to us on UDP 4011 and gets the file in the ACK.
 * - REQUEST whose option 54 is us (firmware that sends the proxy REQUEST to
 *   67 instead of 4011) → the same ACK as on 4011.
 * - Anything else is left to the address server: ignored with a reason.
 *
 * Port 4011 (`respond4011`): REQUEST from a network boot client → ACK with
 * the boot file, back to the datagram's source.
 */
import { type BootDecision, bootDecision, type BootFilesConfig } from "../boot/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { bootFields } from "./boot_reply.ts";
import { type BootClient, classifyClient } from "./client.ts";
import type { Decision, RequestContext } from "./authoritative.ts";
import { MessageType, messageTypeName, Op, Opt } from "./constants.ts";
import { replyDestination } from "./destination.ts";
import { getMessageType, getRequestedIp, getServerId, textValue } from "./option_values.ts";
import { type DhcpPacket, isEthernet } from "./packet.ts";
import { encodePxeVendorOptions } from "./pxe_options.ts";
import { buildReply } from "./reply.ts";

/** How a PXE firmware gets its boot file from the proxy. */
export const ProxyStrategy = {
  /** Option 43 sub-option 6 = 8 and the file in the OFFER (Pixiecore's BIOS path, smee). */
  Option43: "option43",
  /** An OFFER without option 43 or file: the firmware asks again on UDP 4011. */
  Port4011: "port4011",
} as const;
export type ProxyStrategy = typeof ProxyStrategy[keyof typeof ProxyStrategy];

/** Strategy per firmware family (iPXE and UEFI HTTP boot always get their URL in the OFFER). */
export interface ProxyStrategies {
  readonly bios: ProxyStrategy;
  readonly uefi: ProxyStrategy;
}

/**
 * BIOS PXE ROMs honour the spec's "skip discovery" bit and boot the file in
 * the OFFER. UEFI firmware varies on a file in a proxy OFFER, while an OFFER
 * without option 43 or file reliably makes it ask on 4011 (EDK2 calls it a
 * "BINL" offer); Pixiecore and dnsmasq ≥ 2.76 send UEFI clients there too.
 */
export const DEFAULT_PROXY_STRATEGIES: ProxyStrategies = {
  bios: ProxyStrategy.Option43,
  uefi: ProxyStrategy.Port4011,
} as const;

/** Why a request got no reply (the first word of every ignore reason). */
export const ProxyIgnore = {
  NotBootRequest: "not-bootrequest",
  NotEthernet: "not-ethernet",
  NoMessageType: "no-message-type",
  /** RELEASE, DECLINE, INFORM, server messages, DISCOVER on 4011: the address server's. */
  NotProxied: "not-proxied",
  /** No PXEClient/HTTPClient vendor class and not iPXE: an ordinary DHCP client. */
  NotNetboot: "not-netboot",
  Relayed: "relayed",
  /** A REQUEST on 67 for the address server (option 54 not ours, or none). */
  OtherServer: "other-server",
  /** A REQUEST on 67 for our OFFER's yiaddr 0.0.0.0: a plain DHCP client took it for a lease. */
  SelectsProxyOffer: "selects-proxy-offer",
  /** No boot files configured for the segment. */
  NoBootConfig: "no-boot-config",
  /** Nothing to boot for this architecture. */
  NoBootFile: "no-boot-file",
  /** A 4011 datagram from 0.0.0.0: there is nowhere to send the ACK. */
  NoSourceAddress: "no-source-address",
} as const;
export type ProxyIgnore = typeof ProxyIgnore[keyof typeof ProxyIgnore];

/** What the proxy responder needs. */
export interface ProxyConfig {
  /** Boot files for a segment served from `serverIp`; undefined = no boot there. */
  readonly boot: (segment: string, serverIp: number) => BootFilesConfig | undefined;
  readonly strategies?: Partial<ProxyStrategies>;
  /** Answer requests forwarded by a relay agent (giaddr set); off by default. */
  readonly relayed?: boolean;
}

/** Per-datagram facts of a request on UDP 4011. */
export interface BootServerContext {
  readonly segment: string;
  /** Our address on the ingress segment (option 54, siaddr). */
  readonly serverIp: number;
  /** Source of the datagram: the ACK goes back there. */
  readonly srcIp: number;
  readonly srcPort: number;
}

/** What to do with a request on UDP 4011. */
export type BootServerDecision =
  | { readonly kind: "ignore"; readonly reason: string }
  | {
    readonly kind: "reply";
    readonly packet: DhcpPacket;
    readonly to: { readonly ip: number; readonly port: number };
    readonly reason: string;
  };

/** The proxy responder: `respond` for the port 67 server loop, `respond4011` for the boot server. */
export interface ProxyResponder {
  respond(req: DhcpPacket, ctx: RequestContext): Decision;
  respond4011(req: DhcpPacket, ctx: BootServerContext): BootServerDecision;
  readonly strategies: ProxyStrategies;
}

type Options = (readonly [number, Uint8Array])[];

function why(code: ProxyIgnore, detail?: string): string {
  return detail === undefined ? code : `${code}: ${detail}`;
}

/** Option 43 with PXE sub-option 6 (discovery control) = 8: boot the file in this reply. */
const PXE_BOOT_FILE_HERE = encodePxeVendorOptions({ discoveryControl: 8 });
const PXE_CLIENT = textValue("PXEClient");

/** The classified client, or why it is none of the proxy's business. Shared by both ports. */
function netbootClient(req: DhcpPacket, cfg: ProxyConfig): BootClient | string {
  if (!isEthernet(req)) return why(ProxyIgnore.NotEthernet, `htype ${req.htype}/${req.hlen}`);
  const client = classifyClient(req);
  if (!(client.isPxe || client.isHttpClient || client.isIpxe)) return why(ProxyIgnore.NotNetboot);
  if (req.giaddr !== 0 && !cfg.relayed) {
    return why(ProxyIgnore.Relayed, `via ${formatIpv4(req.giaddr)}`);
  }
  return client;
}

/** The boot decision for a client, or why there is none. */
function decideBoot(
  client: BootClient,
  cfg: ProxyConfig,
  segment: string,
  serverIp: number,
): BootDecision | string {
  const files = cfg.boot(segment, serverIp);
  if (files === undefined) return why(ProxyIgnore.NoBootConfig, segment);
  const d = bootDecision(client, files);
  return d.kind === "none" ? why(ProxyIgnore.NoBootFile, d.reason) : d;
}

/**
 * The boot fields of a proxy reply. bootFields gives the file, 66/67 and the
 * option 97 echo; the proxy adds option 60 and drops iPXE's "no ProxyDHCP"
 * flag (175.176), which is for the address server's replies, not ours.
 */
function proxyBootParts(
  client: BootClient,
  d: BootDecision,
  serverIp: number,
  withFile: boolean,
  option43: boolean,
): { siaddr: number; sname: string; file: string; options: Options } {
  const f = withFile ? bootFields(d, client) : null;
  const options: Options = [];
  let siaddr = serverIp;
  let sname = "";
  let file = "";
  if (f !== null) {
    for (const o of f.options) if (o[0] !== Opt.IpxeEncapsulated) options.push(o);
    if (d.kind === "tftp") siaddr = f.siaddr;
    sname = f.sname;
    file = f.file;
  } else if (client.machineId !== undefined) {
    options.push([Opt.ClientMachineIdentifier, client.machineId]);
  }
  // The server names itself "PXEClient" (PXE 2.1 spec); HTTP boot wants its own class back.
  if (d.kind !== "http") options.push([Opt.VendorClassIdentifier, PXE_CLIENT]);
  if (option43) options.push([Opt.VendorSpecific, PXE_BOOT_FILE_HERE]);
  return { siaddr, sname, file, options };
}

/** Creates the proxy responder. */
export function proxyResponder(cfg: ProxyConfig): ProxyResponder {
  const strategies: ProxyStrategies = { ...DEFAULT_PROXY_STRATEGIES, ...cfg.strategies };

  /** The PXE strategy for a client whose decision is a TFTP file. */
  function strategyOf(client: BootClient): ProxyStrategy {
    return client.firmware === "bios" ? strategies.bios : strategies.uefi;
  }

  function ack(req: DhcpPacket, client: BootClient, d: BootDecision, serverIp: number) {
    const p = proxyBootParts(client, d, serverIp, true, false);
    return buildReply(req, {
      type: MessageType.Ack,
      serverId: serverIp,
      // Echoed like an ACK to INFORM: the client keeps the address it has.
      ciaddr: req.ciaddr,
      ...p,
    });
  }

  function respond(req: DhcpPacket, ctx: RequestContext): Decision {
    const ignore = (reason: string): Decision => ({ kind: "ignore", reason, changes: [] });
    if (req.op !== Op.BootRequest) return ignore(why(ProxyIgnore.NotBootRequest));
    const type = getMessageType(req.options);
    if (type === undefined) return ignore(why(ProxyIgnore.NoMessageType, "BOOTP"));
    if (type !== MessageType.Discover && type !== MessageType.Request) {
      return ignore(why(ProxyIgnore.NotProxied, messageTypeName(type)));
    }
    const client = netbootClient(req, cfg);
    if (typeof client === "string") return ignore(client);
    if (type === MessageType.Request) {
      // SELECTING for the address server, or RENEWING/INIT-REBOOT (no option 54): not ours.
      const sid = getServerId(req.options);
      if (sid !== ctx.serverIp) {
        const to = sid === undefined ? "no option 54" : formatIpv4(sid);
        return ignore(why(ProxyIgnore.OtherServer, to));
      }
      // A client that asks for the address 0.0.0.0 is not PXE-aware (busybox
      // udhcpc takes the first OFFER): an ACK would "bind" it to nothing,
      // silence sends it back to DISCOVER and the address server's OFFER.
      if (getRequestedIp(req.options) === 0) return ignore(why(ProxyIgnore.SelectsProxyOffer));
    }
    const d = decideBoot(client, cfg, ctx.segment, ctx.serverIp);
    if (typeof d === "string") return ignore(d);
    if (type === MessageType.Request) {
      const packet = ack(req, client, d, ctx.serverIp);
      return {
        kind: "reply",
        packet,
        // yiaddr 0: broadcast unless the client has an address (ciaddr:68) or came via a relay.
        destination: replyDestination(req, packet, MessageType.Ack),
        changes: [],
        reason: `ACK (proxy on 67): ${d.reason}`,
      };
    }
    // iPXE and HTTP boot get their URL now; PXE firmware per its strategy.
    const tftp = d.kind === "tftp";
    const via4011 = tftp && strategyOf(client) === ProxyStrategy.Port4011;
    // iPXE takes a proxy OFFER with a file name and a non-zero siaddr as
    // complete (ipxe dhcp.c, dhcp_has_pxeopts) and makes no 4011 REQUEST;
    // option 43 with 6 = 8 is added for it as Pixiecore does.
    const option43 = d.kind === "script" || (tftp && !via4011);
    const p = proxyBootParts(client, d, ctx.serverIp, !via4011, option43);
    const packet = buildReply(req, { type: MessageType.Offer, serverId: ctx.serverIp, ...p });
    return {
      kind: "reply",
      packet,
      // A proxy OFFER has no yiaddr to unicast to, and the client may not
      // have an address yet: RFC 2131 §4.1 leaves broadcast (or the relay).
      destination: replyDestination(req, packet, MessageType.Offer),
      changes: [],
      reason: `OFFER (proxy${via4011 ? ", boot file on 4011" : ""}): ${d.reason}`,
    };
  }

  function respond4011(req: DhcpPacket, ctx: BootServerContext): BootServerDecision {
    const ignore = (reason: string): BootServerDecision => ({ kind: "ignore", reason });
    if (req.op !== Op.BootRequest) return ignore(why(ProxyIgnore.NotBootRequest));
    const type = getMessageType(req.options);
    if (type === undefined) return ignore(why(ProxyIgnore.NoMessageType, "BOOTP"));
    // The boot server answers REQUESTs only (PXE 2.1 spec; Pixiecore does the same).
    if (type !== MessageType.Request) {
      return ignore(why(ProxyIgnore.NotProxied, `${messageTypeName(type)} on 4011`));
    }
    const client = netbootClient(req, cfg);
    if (typeof client === "string") return ignore(client);
    // The datagram came to our port, so option 54 is not checked: it is ours by address.
    const d = decideBoot(client, cfg, ctx.segment, ctx.serverIp);
    if (typeof d === "string") return ignore(d);
    // The client has the address server's lease by now and asks from it;
    // the ACK goes back to that address and source port.
    if (ctx.srcIp === 0) return ignore(why(ProxyIgnore.NoSourceAddress));
    return {
      kind: "reply",
      packet: ack(req, client, d, ctx.serverIp),
      to: { ip: ctx.srcIp, port: ctx.srcPort },
      reason: `ACK (4011): ${d.reason}`,
    };
  }

  return { respond, respond4011, strategies };
}
