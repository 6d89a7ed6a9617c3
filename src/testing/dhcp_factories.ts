/**
 * @module
 * Test-only DHCP helpers: commented hex fixtures and request factories in the
 * smee style (`makeDiscover({ mac, arch, userClass })`). Never imported by
 * production code.
 */
import { parseIpv4 } from "../wire/mod.ts";
import {
  archListValue,
  chaddrFromMac,
  type DhcpPacket,
  FLAG_BROADCAST,
  ipValue,
  MessageType,
  Op,
  Opt,
  textValue,
  u16Value,
  u8Value,
  userClassListValue,
} from "../dhcp/mod.ts";

/**
 * Parses a commented hex fixture: `#` starts a comment, tokens are hex byte
 * strings ("63825363" or "63 82") or `hh*N` for N copies of one byte.
 */
export function parseHexFixture(text: string): Uint8Array {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    const body = line.replace(/#.*$/, "").trim();
    if (body === "") continue;
    for (const tok of body.split(/\s+/)) {
      const rep = /^([0-9a-fA-F]{2})\*(\d+)$/.exec(tok);
      if (rep) {
        for (let i = 0; i < Number(rep[2]); i++) out.push(parseInt(rep[1]!, 16));
        continue;
      }
      if (!/^([0-9a-fA-F]{2})+$/.test(tok)) throw new Error(`bad fixture token "${tok}"`);
      for (let i = 0; i < tok.length; i += 2) out.push(parseInt(tok.slice(i, i + 2), 16));
    }
  }
  return Uint8Array.from(out);
}

/** Reads a fixture from src/dhcp/testdata by file name. */
export async function loadDhcpFixture(name: string): Promise<Uint8Array> {
  const url = new URL(`../dhcp/testdata/${name}`, import.meta.url);
  return parseHexFixture(await Deno.readTextFile(url));
}

/** What a fake client puts in its message. Addresses are dotted strings for readability. */
export interface ClientSpec {
  readonly mac?: string;
  readonly xid?: number;
  /** Option 93; a number or a list. */
  readonly arch?: number | readonly number[];
  /** Option 77 as iPXE sends it (plain string), or an RFC 3004 list. */
  readonly userClass?: string | readonly string[];
  /** Option 60. */
  readonly vendorClass?: string;
  /** Option 61 raw bytes. */
  readonly clientId?: Uint8Array;
  /** Option 12. */
  readonly hostname?: string;
  /** Option 50. */
  readonly requestedIp?: string;
  /** Option 54. */
  readonly serverId?: string;
  readonly ciaddr?: string;
  readonly giaddr?: string;
  readonly broadcast?: boolean;
  /** Option 97 raw value (use {@link guidOption} for a well-formed one). */
  readonly machineId?: Uint8Array;
  /** Adds an option 175 with the given raw content (iPXE's marker). */
  readonly ipxeOptions?: Uint8Array;
  /** Option 55. */
  readonly prl?: readonly number[];
  /** Option 57. */
  readonly maxSize?: number;
  /** Option 82 raw bytes. */
  readonly relayInfo?: Uint8Array;
  /** Any other options, appended last. */
  readonly extra?: readonly (readonly [number, Uint8Array])[];
}

/** Option 97 value: type 0 plus 16 GUID bytes (filled with `seed` + i). */
export function guidOption(seed = 0x10): Uint8Array {
  const v = new Uint8Array(17);
  for (let i = 1; i < 17; i++) v[i] = (seed + i) & 255;
  return v;
}

/** Builds a client message of the given type. */
export function makePacket(type: number, s: ClientSpec = {}): DhcpPacket {
  const o = new Map<number, Uint8Array>();
  o.set(Opt.MessageType, u8Value(type));
  if (s.requestedIp !== undefined) o.set(Opt.RequestedIpAddress, ipValue(parseIpv4(s.requestedIp)));
  if (s.serverId !== undefined) o.set(Opt.ServerIdentifier, ipValue(parseIpv4(s.serverId)));
  if (s.maxSize !== undefined) o.set(Opt.MaxMessageSize, u16Value(s.maxSize));
  if (s.prl !== undefined) o.set(Opt.ParameterRequestList, Uint8Array.from(s.prl));
  if (s.clientId !== undefined) o.set(Opt.ClientIdentifier, s.clientId);
  if (s.hostname !== undefined) o.set(Opt.Hostname, textValue(s.hostname));
  if (s.arch !== undefined) {
    o.set(
      Opt.ClientSystemArchitecture,
      archListValue(typeof s.arch === "number" ? [s.arch] : s.arch),
    );
  }
  if (s.vendorClass !== undefined) o.set(Opt.VendorClassIdentifier, textValue(s.vendorClass));
  if (s.userClass !== undefined) {
    o.set(
      Opt.UserClass,
      typeof s.userClass === "string" ? textValue(s.userClass) : userClassListValue(s.userClass),
    );
  }
  if (s.machineId !== undefined) o.set(Opt.ClientMachineIdentifier, s.machineId);
  if (s.ipxeOptions !== undefined) o.set(Opt.IpxeEncapsulated, s.ipxeOptions);
  if (s.relayInfo !== undefined) o.set(Opt.RelayAgentInformation, s.relayInfo);
  for (const [code, v] of s.extra ?? []) o.set(code, v);
  return {
    op: Op.BootRequest,
    htype: 1,
    hlen: 6,
    hops: s.giaddr !== undefined ? 1 : 0,
    xid: s.xid ?? 0x1234abcd,
    secs: 0,
    flags: s.broadcast ? FLAG_BROADCAST : 0,
    ciaddr: s.ciaddr !== undefined ? parseIpv4(s.ciaddr) : 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: s.giaddr !== undefined ? parseIpv4(s.giaddr) : 0,
    chaddr: chaddrFromMac(s.mac ?? "52:54:00:00:00:01"),
    sname: "",
    file: "",
    options: o,
  };
}

/** DHCPDISCOVER. */
export function makeDiscover(s: ClientSpec = {}): DhcpPacket {
  return makePacket(MessageType.Discover, s);
}
/** DHCPREQUEST (the state follows from serverId/requestedIp/ciaddr as in RFC 2131 §4.3.2). */
export function makeRequest(s: ClientSpec = {}): DhcpPacket {
  return makePacket(MessageType.Request, s);
}
/** DHCPDECLINE. */
export function makeDecline(s: ClientSpec = {}): DhcpPacket {
  return makePacket(MessageType.Decline, s);
}
/** DHCPRELEASE. */
export function makeRelease(s: ClientSpec = {}): DhcpPacket {
  return makePacket(MessageType.Release, s);
}
/** DHCPINFORM. */
export function makeInform(s: ClientSpec = {}): DhcpPacket {
  return makePacket(MessageType.Inform, s);
}
