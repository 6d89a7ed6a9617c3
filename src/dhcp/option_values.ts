/**
 * @module
 * Typed readers and builders for the option values mesh uses. Readers are
 * lenient: a value of the wrong shape reads as `undefined` (the packet decoder
 * already rejects malformed options the state machine depends on: 50, 51, 52,
 * 53, 54, 57). Builders return the raw value bytes. Pure.
 */
import { ipv4FromBytes, ipv4ToBytes } from "../wire/mod.ts";
import { Opt } from "./constants.ts";
import type { DhcpOptions } from "./options.ts";

// ---- generic value readers -------------------------------------------------

/** Latin-1 text with trailing NULs removed (dnsmasq and some ROMs NUL-terminate strings). */
export function bytesToText(b: Uint8Array): string {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  let s = "";
  for (let i = 0; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

/** Latin-1 bytes of a string; characters above U+00FF are a programming error. */
export function textToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new RangeError(`character U+${c.toString(16)} cannot be sent in DHCP`);
    out[i] = c;
  }
  return out;
}

/** Lower-case hex of bytes (option 61 is stored this way in the lease table). */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function u8At(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v?.length === 1 ? v[0] : undefined;
}
function u16At(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v?.length === 2 ? (v[0]! << 8) | v[1]! : undefined;
}
function u32At(o: DhcpOptions, code: number): number | undefined {
  const v = o.get(code);
  return v?.length === 4 ? ipv4FromBytes(v) : undefined;
}
function ipListAt(o: DhcpOptions, code: number): number[] | undefined {
  const v = o.get(code);
  if (v === undefined || v.length === 0 || v.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < v.length; i += 4) out.push(ipv4FromBytes(v, i));
  return out;
}
function textAt(o: DhcpOptions, code: number): string | undefined {
  const v = o.get(code);
  return v === undefined ? undefined : bytesToText(v);
}

// ---- named readers ---------------------------------------------------------

/** Option 53. */
export function getMessageType(o: DhcpOptions): number | undefined {
  return u8At(o, Opt.MessageType);
}
/** Option 1. */
export function getSubnetMask(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.SubnetMask);
}
/** Option 3. */
export function getRouters(o: DhcpOptions): number[] | undefined {
  return ipListAt(o, Opt.Router);
}
/** Option 6. */
export function getDnsServers(o: DhcpOptions): number[] | undefined {
  return ipListAt(o, Opt.DomainNameServer);
}
/** Option 12. */
export function getHostname(o: DhcpOptions): string | undefined {
  return textAt(o, Opt.Hostname);
}
/** Option 15. */
export function getDomainName(o: DhcpOptions): string | undefined {
  return textAt(o, Opt.DomainName);
}
/** Option 28. */
export function getBroadcastAddress(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.BroadcastAddress);
}
/** Option 50. */
export function getRequestedIp(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.RequestedIpAddress);
}
/** Option 51, seconds. */
export function getLeaseTime(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.IpAddressLeaseTime);
}
/** Option 54. */
export function getServerId(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.ServerIdentifier);
}
/** Option 55: requested option codes in the client's order (a huge list is fine). */
export function getParameterRequestList(o: DhcpOptions): number[] | undefined {
  const v = o.get(Opt.ParameterRequestList);
  return v === undefined ? undefined : Array.from(v);
}
/** Option 57, bytes (the whole IP datagram). */
export function getMaxMessageSize(o: DhcpOptions): number | undefined {
  return u16At(o, Opt.MaxMessageSize);
}
/** Option 58, seconds. */
export function getRenewalTime(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.RenewalTime);
}
/** Option 59, seconds. */
export function getRebindingTime(o: DhcpOptions): number | undefined {
  return u32At(o, Opt.RebindingTime);
}
/** Option 60. */
export function getVendorClass(o: DhcpOptions): string | undefined {
  return textAt(o, Opt.VendorClassIdentifier);
}
/** Option 61 as lower-case hex (type byte included), or undefined when absent or empty. */
export function getClientIdHex(o: DhcpOptions): string | undefined {
  const v = o.get(Opt.ClientIdentifier);
  return v === undefined || v.length === 0 ? undefined : toHex(v);
}
/** Option 66. */
export function getTftpServerName(o: DhcpOptions): string | undefined {
  return textAt(o, Opt.TftpServerName);
}
/** Option 67. */
export function getBootfileName(o: DhcpOptions): string | undefined {
  return textAt(o, Opt.BootfileName);
}

/**
 * Option 77 as a list of classes. RFC 3004 encodes a list of length-prefixed
 * strings; iPXE (and older clients) send one plain string such as "iPXE".
 * When the bytes are not an exact RFC 3004 list they are read as one string.
 */
export function getUserClasses(o: DhcpOptions): string[] | undefined {
  const v = o.get(Opt.UserClass);
  if (v === undefined) return undefined;
  const list: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    if (len === 0 || i + 1 + len > v.length) return [bytesToText(v)];
    list.push(bytesToText(v.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return list.length > 0 ? list : [bytesToText(v)];
}

/** Option 82, raw: relay agent information is echoed byte for byte (RFC 3046 §2.2). */
export function getRelayAgentInfo(o: DhcpOptions): Uint8Array | undefined {
  return o.get(Opt.RelayAgentInformation);
}

/** Option 93: the client's architecture types, in order of preference. */
export function getClientArchs(o: DhcpOptions): number[] | undefined {
  const v = o.get(Opt.ClientSystemArchitecture);
  if (v === undefined || v.length < 2) return undefined;
  const out: number[] = [];
  for (let i = 0; i + 1 < v.length; i += 2) out.push((v[i]! << 8) | v[i + 1]!);
  return out;
}

/** Option 94: client network interface identifier (UNDI version). */
export interface ClientNdi {
  readonly type: number;
  readonly major: number;
  readonly minor: number;
}
/** Option 94, or undefined when absent or not 3 bytes. */
export function getClientNdi(o: DhcpOptions): ClientNdi | undefined {
  const v = o.get(Opt.ClientNetworkInterface);
  return v?.length === 3 ? { type: v[0]!, major: v[1]!, minor: v[2]! } : undefined;
}

/** Option 97: a type byte 0 and a 16-byte GUID; anything else is kept raw with valid=false. */
export type ClientMachineId =
  | { readonly valid: true; readonly raw: Uint8Array; readonly guid: Uint8Array }
  | { readonly valid: false; readonly raw: Uint8Array };
/** Option 97; malformed values are tolerated (some ROMs send garbage) and flagged. */
export function getClientMachineId(o: DhcpOptions): ClientMachineId | undefined {
  const v = o.get(Opt.ClientMachineIdentifier);
  if (v === undefined) return undefined;
  if (v.length === 17 && v[0] === 0) return { valid: true, raw: v, guid: v.subarray(1) };
  return { valid: false, raw: v };
}

/** 16 GUID bytes as 8-4-4-4-12 hex, in wire order. */
export function formatGuid(guid: Uint8Array): string {
  const h = toHex(guid);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
    h.slice(20, 32)
  }`;
}

/**
 * 16 GUID bytes as the SMBIOS UUID text that dmidecode, the kernel and iPXE's
 * `${uuid}` show: SMBIOS 2.6+ stores the first three fields little-endian, and
 * PXE ROMs copy those bytes into option 97 unchanged.
 */
export function formatSmbiosUuid(guid: Uint8Array): string {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return formatGuid(Uint8Array.from(order, (i) => guid[i]!));
}

// ---- builders --------------------------------------------------------------

/** One IPv4 address. */
export function ipValue(ip: number): Uint8Array {
  return ipv4ToBytes(ip);
}
/** A list of IPv4 addresses. */
export function ipListValue(ips: readonly number[]): Uint8Array {
  const out = new Uint8Array(ips.length * 4);
  ips.forEach((ip, i) => out.set(ipv4ToBytes(ip), i * 4));
  return out;
}
/** One byte. */
export function u8Value(v: number): Uint8Array {
  const b = new Uint8Array(1);
  b[0] = v;
  return b;
}
/** A big-endian 16-bit number. */
export function u16Value(v: number): Uint8Array {
  const b = new Uint8Array(2);
  b[0] = v >>> 8;
  b[1] = v;
  return b;
}
/** A big-endian 32-bit number (lease times). */
export function u32Value(v: number): Uint8Array {
  return ipv4ToBytes(v >>> 0);
}
/** Latin-1 text without a terminating NUL. */
export function textValue(s: string): Uint8Array {
  return textToBytes(s);
}
/** Option 93 value from a list of architecture types. */
export function archListValue(archs: readonly number[]): Uint8Array {
  const out = new Uint8Array(archs.length * 2);
  archs.forEach((a, i) => out.set(u16Value(a), i * 2));
  return out;
}
/** Option 77 in RFC 3004 form (a list of length-prefixed classes). */
export function userClassListValue(classes: readonly string[]): Uint8Array {
  const parts = classes.map(textToBytes);
  const out = new Uint8Array(parts.reduce((n, p) => n + 1 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out[at++] = p.length;
    out.set(p, at);
    at += p.length;
  }
  return out;
}
