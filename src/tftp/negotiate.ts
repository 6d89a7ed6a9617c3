/**
 * @module
 * Option negotiation (RFC 2347): blksize (RFC 2348), timeout and tsize
 * (RFC 2349), windowsize (RFC 7440). Unknown or malformed options are ignored,
 * never refused, so an odd client still gets the file with defaults. Pure.
 */

/** Largest blksize RFC 2348 allows. */
export const MAX_BLKSIZE = 65464;
/** Smallest blksize RFC 2348 allows. */
export const MIN_BLKSIZE = 8;
/** Block size without negotiation (RFC 1350). */
export const DEFAULT_BLKSIZE = 512;
/** IPv4 (20) + UDP (8) + TFTP DATA header (4). */
const OVERHEAD = 32;

/** Server-side limits applied to what a client asks for. */
export interface NegotiationLimits {
  /** Path MTU to the client; blksize is clamped to mtu - 32. Default 1500. */
  readonly mtu?: number;
  /** Upper bound for windowsize. Default 64 (RFC 7440 gains flatten there). */
  readonly maxWindowsize?: number;
  /** Whether tsize may be answered (false e.g. when the size is unknown). */
  readonly sizeKnown?: boolean;
}

/** What the transfer will use, and the OACK to send (null: send DATA 1 directly). */
export interface Negotiated {
  readonly blksize: number;
  readonly windowsize: number;
  /** Per-packet timeout asked by the client (RFC 2349), in ms; null = server default. */
  readonly timeoutMs: number | null;
  readonly oack: ReadonlyMap<string, string> | null;
}

function parseDecimal(text: string): number | null {
  if (!/^[0-9]{1,10}$/.test(text)) return null;
  return Number(text);
}

/** Largest blksize for a path MTU. */
export function blksizeForMtu(mtu: number): number {
  return Math.max(MIN_BLKSIZE, Math.min(MAX_BLKSIZE, mtu - OVERHEAD));
}

/**
 * Negotiates a read request's options. `size` is the number of bytes that
 * will be sent (after netascii conversion), used to answer tsize.
 */
export function negotiate(
  options: ReadonlyMap<string, string>,
  size: number,
  limits: NegotiationLimits = {},
): Negotiated {
  const oack = new Map<string, string>();
  let blksize = DEFAULT_BLKSIZE;
  let windowsize = 1;
  let timeoutMs: number | null = null;

  const askedBlk = options.get("blksize");
  if (askedBlk !== undefined) {
    const n = parseDecimal(askedBlk);
    if (n !== null && n >= MIN_BLKSIZE) {
      blksize = Math.min(n, blksizeForMtu(limits.mtu ?? 1500));
      oack.set("blksize", String(blksize));
    }
  }
  const askedTimeout = options.get("timeout");
  if (askedTimeout !== undefined) {
    const n = parseDecimal(askedTimeout);
    if (n !== null && n >= 1 && n <= 255) {
      timeoutMs = n * 1000;
      oack.set("timeout", String(n));
    }
  }
  const askedTsize = options.get("tsize");
  if (askedTsize !== undefined && (limits.sizeKnown ?? true)) {
    // In a RRQ the client sends 0; any number is accepted and replaced by the size.
    if (parseDecimal(askedTsize) !== null) oack.set("tsize", String(size));
  }
  const askedWindow = options.get("windowsize");
  if (askedWindow !== undefined) {
    const n = parseDecimal(askedWindow);
    if (n !== null && n >= 1 && n <= 65535) {
      windowsize = Math.min(n, limits.maxWindowsize ?? 64);
      oack.set("windowsize", String(windowsize));
    }
  }
  return { blksize, windowsize, timeoutMs, oack: oack.size > 0 ? oack : null };
}
