/**
 * @module
 * HTTP/1.x request head parser (pure: bytes in, a decision out). Strict where
 * laxness leads to request smuggling (RFC 9112 §6.3, §11.2): no whitespace
 * before a header colon, no obs-fold, no Transfer-Encoding (we never need
 * request bodies larger than a small Content-Length), conflicting
 * Content-Length values refused. Bare LF line ends are accepted, as nginx does.
 */

/** Limits on what a request head may carry. */
export interface HeadLimits {
  /** Bytes of request line + headers + blank line. */
  readonly maxHeadBytes: number;
  readonly maxHeaders: number;
  /** Largest accepted request body (Content-Length). */
  readonly maxBodyBytes: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = {
  maxHeadBytes: 16 * 1024,
  maxHeaders: 100,
  maxBodyBytes: 64 * 1024,
};

/** A parsed request head. Header names are lower-case, values trimmed. */
export interface RequestHead {
  readonly method: string;
  readonly target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  readonly headers: readonly [string, string][];
  /** Bytes consumed from the buffer (leading blank lines, head and its blank line). */
  readonly headLength: number;
  readonly contentLength: number;
  /** What the client asked for; the server may still close. */
  readonly keepAlive: boolean;
  readonly host: string | null;
  readonly expectContinue: boolean;
}

export type HeadResult =
  | { readonly kind: "incomplete" }
  | {
    readonly kind: "error";
    readonly status: 400 | 413 | 417 | 431 | 501 | 505;
    readonly reason: string;
  }
  | { readonly kind: "request"; readonly head: RequestHead };

const INCOMPLETE: HeadResult = { kind: "incomplete" };

/** tchar of RFC 9110 §5.6.2, as a lookup table. */
const TCHAR = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x30; c <= 0x39; c++) t[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = 1;
  for (const ch of "!#$%&'*+-.^_`|~") t[ch.charCodeAt(0)] = 1;
  return t;
})();

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** Bytes as a Latin-1 string (one char per byte, as HTTP field values are octets). */
function latin1(b: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      b.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

function error(
  status: 400 | 413 | 417 | 431 | 501 | 505,
  reason: string,
): HeadResult {
  return { kind: "error", status, reason };
}

/** Index just past the blank line ending the head, or -1 when not yet received. */
function headEnd(b: Uint8Array, from: number, to: number): number {
  for (let i = b.indexOf(10, from); i >= 0 && i < to; i = b.indexOf(10, i + 1)) {
    const n = b[i + 1];
    if (i + 1 < to && n === 10) return i + 2;
    if (i + 2 < to && n === 13 && b[i + 2] === 10) return i + 3;
  }
  return -1;
}

/** Field value octets: HTAB, SP, VCHAR, obs-text; no other controls (no bare CR). */
function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f) return false;
  }
  return true;
}

/** The request target in origin-form or absolute-form: visible ASCII only. */
function validTarget(t: string): boolean {
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return t.startsWith("/") || /^https?:\/\//i.test(t);
}

function trimOws(s: string): string {
  let a = 0, z = s.length;
  while (a < z && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (z > a && (s.charCodeAt(z - 1) === 32 || s.charCodeAt(z - 1) === 9)) z--;
  return s.slice(a, z);
}

/**
 * Parses the request head at the start of `buf[0, length)`. "incomplete" means
 * more bytes are needed (and the limit is not yet exceeded).
 */
export function parseRequestHead(
  buf: Uint8Array,
  length: number = buf.length,
  limits: HeadLimits = DEFAULT_HEAD_LIMITS,
): HeadResult {
  // RFC 9112 §2.2: ignore empty lines before the request line
  let start = 0;
  while (start < length && (buf[start] === 13 || buf[start] === 10)) start++;
  if (start > 64) return error(400, "too many blank lines");
  const end = headEnd(buf, start, length);
  if (end < 0) {
    return length - start > limits.maxHeadBytes ? error(431, "head too large") : INCOMPLETE;
  }
  if (end - start > limits.maxHeadBytes) return error(431, "head too large");
  const text = latin1(buf, start, end);
  const lines = text.split("\n");
  // the last two entries are the blank line's remains ("" or "\r", then "")
  const count = lines.length - 2;
  const requestLine = stripCr(lines[0]!);
  if (requestLine === null) return error(400, "bare CR in request line");
  const sp1 = requestLine.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : requestLine.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || requestLine.indexOf(" ", sp2 + 1) >= 0) {
    return error(400, "malformed request line");
  }
  const method = requestLine.slice(0, sp1);
  const target = requestLine.slice(sp1 + 1, sp2);
  const version = requestLine.slice(sp2 + 1);
  if (!isToken(method)) return error(400, "invalid method");
  if (target.length === 0 || !validTarget(target)) return error(400, "invalid request target");
  let minor: 0 | 1;
  if (version === "HTTP/1.1") minor = 1;
  else if (version === "HTTP/1.0") minor = 0;
  else if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) return error(505, "unsupported version");
  else return error(400, "invalid version");
  if (count - 1 > limits.maxHeaders) return error(431, "too many headers");

  const headers: [string, string][] = [];
  let contentLength = -1;
  let host: string | null = null;
  let connection = "";
  let expect: string | null = null;
  let transferEncoding = false;
  for (let i = 1; i < count; i++) {
    const line = stripCr(lines[i]!);
    if (line === null) return error(400, "bare CR in header");
    const c0 = line.charCodeAt(0);
    if (c0 === 32 || c0 === 9) return error(400, "obsolete line folding");
    const colon = line.indexOf(":");
    if (colon <= 0) return error(400, "malformed header");
    const name = line.slice(0, colon);
    if (!isToken(name)) return error(400, "invalid header name");
    const value = trimOws(line.slice(colon + 1));
    if (!validValue(value)) return error(400, "invalid header value");
    const lower = name.toLowerCase();
    switch (lower) {
      case "content-length": {
        // a list of identical values is allowed (RFC 9110 §8.6); anything else is refused
        for (const part of value.split(",")) {
          const p = trimOws(part);
          if (!/^[0-9]{1,15}$/.test(p)) return error(400, "invalid content-length");
          const n = Number(p);
          if (contentLength >= 0 && n !== contentLength) {
            return error(400, "conflicting content-length");
          }
          contentLength = n;
        }
        break;
      }
      case "transfer-encoding":
        transferEncoding = true;
        break;
      case "host":
        if (host !== null) return error(400, "duplicate host");
        host = value;
        break;
      case "connection":
        connection += `,${value.toLowerCase()}`;
        break;
      case "expect":
        expect = value.toLowerCase();
        break;
    }
    headers.push([lower, value]);
  }
  if (transferEncoding) {
    return contentLength >= 0
      ? error(400, "content-length with transfer-encoding")
      : error(501, "transfer-encoding not supported");
  }
  if (minor === 1 && host === null) return error(400, "missing host");
  if (host !== null && !/^[A-Za-z0-9.\-_~%!$&'()*+,;=:[\]]*$/.test(host)) {
    return error(400, "invalid host");
  }
  if (contentLength > limits.maxBodyBytes) return error(413, "body too large");
  if (expect !== null && expect !== "100-continue") return error(417, "unsupported expectation");
  const tokens = connection.split(",").map(trimOws);
  const keepAlive = minor === 1 ? !tokens.includes("close") : tokens.includes("keep-alive");
  return {
    kind: "request",
    head: {
      method,
      target,
      minor,
      headers,
      headLength: end,
      contentLength: Math.max(0, contentLength),
      keepAlive,
      host,
      expectContinue: expect === "100-continue" && minor === 1,
    },
  };
}

/** A line without its trailing CR; null when a CR appears anywhere else. */
function stripCr(line: string): string | null {
  const cr = line.indexOf("\r");
  if (cr < 0) return line;
  return cr === line.length - 1 ? line.slice(0, cr) : null;
}
