/**
 * @module
 * Encapsulated sub-options: PXE vendor options inside option 43 (PXE 2.1
 * spec) and iPXE's option 175. Both are code/length/value lists terminated
 * by 255, like the main option area. Pure.
 */
import { DecodeError } from "../errors.ts";
import { ByteWriter, ipv4FromBytes, ipv4ToBytes } from "../wire/mod.ts";
import { Opt, PxeSubOpt } from "./constants.ts";
import { bytesToText, textToBytes } from "./option_values.ts";
import { concatOptions, encodeOptions, newOptionChunks, readOptionArea } from "./options.ts";
import type { DhcpOptions } from "./options.ts";

/**
 * Decodes an encapsulated sub-option list. Throws DecodeError naming `field`
 * with the offset inside the option value.
 */
export function decodeSubOptions(value: Uint8Array, field: string): Map<number, Uint8Array> {
  const acc = newOptionChunks();
  readOptionArea(value, 0, value.length, field, acc);
  return concatOptions(acc);
}

/** Encodes a sub-option list with its End byte. */
export function encodeSubOptions(subs: Iterable<readonly [number, Uint8Array]>): Uint8Array {
  const w = new ByteWriter(64);
  encodeOptions(w, subs);
  return w.finish();
}

/** One boot server type and its addresses (sub-option 8). */
export interface PxeBootServer {
  readonly type: number;
  readonly ips: readonly number[];
}
/** One boot menu entry (sub-option 9). */
export interface PxeMenuItem {
  readonly type: number;
  readonly description: string;
}

/** The PXE sub-options of option 43 that mesh understands. */
export interface PxeVendorOptions {
  /** Sub-option 6; bit 3 (value 8) = "boot the file in the reply, no discovery". */
  readonly discoveryControl?: number;
  readonly bootServers?: readonly PxeBootServer[];
  readonly bootMenu?: readonly PxeMenuItem[];
  readonly menuPrompt?: { readonly timeout: number; readonly prompt: string };
  readonly bootItem?: { readonly type: number; readonly layer: number };
}

/** Decodes the PXE vendor sub-options. Throws DecodeError on a malformed list. */
export function decodePxeVendorOptions(value: Uint8Array): PxeVendorOptions {
  const subs = decodeSubOptions(value, "option 43");
  const out: {
    -readonly [K in keyof PxeVendorOptions]: PxeVendorOptions[K];
  } = {};
  const dc = subs.get(PxeSubOpt.DiscoveryControl);
  if (dc?.length === 1) out.discoveryControl = dc[0]!;
  const bs = subs.get(PxeSubOpt.BootServers);
  if (bs !== undefined) out.bootServers = decodeBootServers(bs);
  const menu = subs.get(PxeSubOpt.BootMenu);
  if (menu !== undefined) out.bootMenu = decodeBootMenu(menu);
  const prompt = subs.get(PxeSubOpt.MenuPrompt);
  if (prompt !== undefined && prompt.length >= 1) {
    out.menuPrompt = { timeout: prompt[0]!, prompt: bytesToText(prompt.subarray(1)) };
  }
  const item = subs.get(PxeSubOpt.BootItem);
  if (item?.length === 4) {
    out.bootItem = { type: (item[0]! << 8) | item[1]!, layer: (item[2]! << 8) | item[3]! };
  }
  return out;
}

function decodeBootServers(v: Uint8Array): PxeBootServer[] {
  const list: PxeBootServer[] = [];
  let i = 0;
  while (i < v.length) {
    if (i + 3 > v.length) throw new DecodeError("option 43 sub-option 8", i, "truncated entry");
    const type = (v[i]! << 8) | v[i + 1]!;
    const count = v[i + 2]!;
    if (i + 3 + count * 4 > v.length) {
      throw new DecodeError("option 43 sub-option 8", i, `${count} addresses do not fit`);
    }
    const ips: number[] = [];
    for (let k = 0; k < count; k++) ips.push(ipv4FromBytes(v, i + 3 + k * 4));
    list.push({ type, ips });
    i += 3 + count * 4;
  }
  return list;
}

function decodeBootMenu(v: Uint8Array): PxeMenuItem[] {
  const list: PxeMenuItem[] = [];
  let i = 0;
  while (i < v.length) {
    if (i + 3 > v.length) throw new DecodeError("option 43 sub-option 9", i, "truncated entry");
    const type = (v[i]! << 8) | v[i + 1]!;
    const len = v[i + 2]!;
    if (i + 3 + len > v.length) {
      throw new DecodeError(
        "option 43 sub-option 9",
        i,
        `description of ${len} bytes does not fit`,
      );
    }
    list.push({ type, description: bytesToText(v.subarray(i + 3, i + 3 + len)) });
    i += 3 + len;
  }
  return list;
}

/** Encodes PXE vendor sub-options for option 43. */
export function encodePxeVendorOptions(p: PxeVendorOptions): Uint8Array {
  const subs: [number, Uint8Array][] = [];
  if (p.discoveryControl !== undefined) {
    subs.push([PxeSubOpt.DiscoveryControl, Uint8Array.of(p.discoveryControl)]);
  }
  if (p.bootServers !== undefined) {
    const w = new ByteWriter(32);
    for (const s of p.bootServers) {
      w.u16(s.type).u8(s.ips.length);
      for (const ip of s.ips) w.bytes(ipv4ToBytes(ip));
    }
    subs.push([PxeSubOpt.BootServers, w.finish()]);
  }
  if (p.bootMenu !== undefined) {
    const w = new ByteWriter(32);
    for (const m of p.bootMenu) {
      const d = textToBytes(m.description);
      w.u16(m.type).u8(d.length).bytes(d);
    }
    subs.push([PxeSubOpt.BootMenu, w.finish()]);
  }
  if (p.menuPrompt !== undefined) {
    const t = textToBytes(p.menuPrompt.prompt);
    const v = new Uint8Array(1 + t.length);
    v[0] = p.menuPrompt.timeout;
    v.set(t, 1);
    subs.push([PxeSubOpt.MenuPrompt, v]);
  }
  if (p.bootItem !== undefined) {
    const w = new ByteWriter(4);
    w.u16(p.bootItem.type).u16(p.bootItem.layer);
    subs.push([PxeSubOpt.BootItem, w.finish()]);
  }
  return encodeSubOptions(subs);
}

/** Option 43 read as PXE sub-options; undefined when absent or malformed. */
export function getPxeVendorOptions(o: DhcpOptions): PxeVendorOptions | undefined {
  const v = o.get(Opt.VendorSpecific);
  if (v === undefined) return undefined;
  try {
    return decodePxeVendorOptions(v);
  } catch (e) {
    if (e instanceof DecodeError) return undefined;
    throw e;
  }
}

/**
 * Option 175 (iPXE encapsulated options) as a sub-option map; an empty map when
 * present but unreadable (its presence alone identifies iPXE), undefined when absent.
 */
export function getIpxeOptions(o: DhcpOptions): Map<number, Uint8Array> | undefined {
  const v = o.get(Opt.IpxeEncapsulated);
  if (v === undefined) return undefined;
  try {
    return decodeSubOptions(v, "option 175");
  } catch (e) {
    if (e instanceof DecodeError) return new Map();
    throw e;
  }
}
