/**
 * @module
 * TFTP packet codecs (RFC 1350, RFC 2347 OACK). Pure.
 *
 * ```
 *  RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
 *  DATA     | 03    | block (u16) | data (0..blksize bytes)
 *  ACK      | 04    | block (u16)
 *  ERROR    | 05    | code (u16)  | message | 0
 *  OACK     | 06    | opt1 | 0 | value1 | 0 | ...
 * ```
 * Opcodes are 2 bytes, big-endian.
 */
import { DecodeError } from "../errors.ts";

/** TFTP opcodes. */
export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;
export type Opcode = typeof Opcode[keyof typeof Opcode];

/** TFTP error codes (RFC 1350 plus 8 from RFC 2347). */
export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** A read or write request. Option names are lower-cased; the first of duplicates wins. */
export interface RequestPacket {
  readonly op: typeof Opcode.RRQ | typeof Opcode.WRQ;
  readonly file: string;
  /** Lower-cased transfer mode ("octet", "netascii", ...). */
  readonly mode: string;
  readonly options: ReadonlyMap<string, string>;
}
export interface DataPacket {
  readonly op: typeof Opcode.DATA;
  readonly block: number;
  readonly data: Uint8Array;
}
export interface AckPacket {
  readonly op: typeof Opcode.ACK;
  readonly block: number;
}
export interface ErrorPacket {
  readonly op: typeof Opcode.ERROR;
  readonly code: number;
  readonly message: string;
}
export interface OackPacket {
  readonly op: typeof Opcode.OACK;
  readonly options: ReadonlyMap<string, string>;
}
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

// Fatal decoding: a name that is not valid UTF-8 is refused rather than
// silently turned into U+FFFD, which could alias another file name.
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

function readString(bytes: Uint8Array, offset: number, field: string): [string, number] {
  const end = bytes.indexOf(0, offset);
  if (end < 0) throw new DecodeError(field, offset, "missing NUL terminator");
  try {
    return [utf8.decode(bytes.subarray(offset, end)), end + 1];
  } catch {
    throw new DecodeError(field, offset, "not valid UTF-8");
  }
}

function readOptions(bytes: Uint8Array, offset: number): Map<string, string> {
  const options = new Map<string, string>();
  let at = offset;
  while (at < bytes.length) {
    // Some clients pad requests with trailing NULs or a dangling name; like
    // tftp-hpa we ignore an incomplete trailing pair instead of refusing.
    if (bytes.indexOf(0, at) < 0) break;
    const [name, afterName] = readString(bytes, at, "option name");
    if (afterName >= bytes.length || bytes.indexOf(0, afterName) < 0) break;
    const [value, afterValue] = readString(bytes, afterName, "option value");
    at = afterValue;
    if (name === "") continue;
    const key = name.toLowerCase();
    if (!options.has(key)) options.set(key, value);
  }
  return options;
}

/** Decodes one TFTP packet. Throws DecodeError for anything malformed. */
export function decodePacket(bytes: Uint8Array): Packet {
  if (bytes.length < 2) throw new DecodeError("opcode", 0, `need 2 bytes, ${bytes.length} left`);
  const op = (bytes[0]! << 8) | bytes[1]!;
  switch (op) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const [file, afterFile] = readString(bytes, 2, "filename");
      const [mode, afterMode] = readString(bytes, afterFile, "mode");
      return { op, file, mode: mode.toLowerCase(), options: readOptions(bytes, afterMode) };
    }
    case Opcode.DATA: {
      if (bytes.length < 4) throw new DecodeError("block", 2, "DATA shorter than 4 bytes");
      return { op, block: (bytes[2]! << 8) | bytes[3]!, data: bytes.subarray(4) };
    }
    case Opcode.ACK: {
      if (bytes.length < 4) throw new DecodeError("block", 2, "ACK shorter than 4 bytes");
      return { op, block: (bytes[2]! << 8) | bytes[3]! };
    }
    case Opcode.ERROR: {
      if (bytes.length < 4) throw new DecodeError("error code", 2, "ERROR shorter than 4 bytes");
      const code = (bytes[2]! << 8) | bytes[3]!;
      // The message is informative only; accept a missing NUL or bad UTF-8.
      const end = bytes.indexOf(0, 4);
      const raw = bytes.subarray(4, end < 0 ? bytes.length : end);
      return { op, code, message: new TextDecoder().decode(raw) };
    }
    case Opcode.OACK:
      return { op, options: readOptions(bytes, 2) };
    default:
      throw new DecodeError("opcode", 0, `unknown opcode ${op}`);
  }
}

function withStrings(op: number, strings: readonly string[]): Uint8Array {
  const parts = strings.map((s) => encoder.encode(s));
  const out = new Uint8Array(2 + parts.reduce((n, p) => n + p.length + 1, 0));
  out[1] = op;
  let at = 2;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + 1; // the NUL is already zero
  }
  return out;
}

function optionStrings(options: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of options) out.push(k, v);
  return out;
}

/** Encodes a RRQ or WRQ. */
export function encodeRequest(
  op: typeof Opcode.RRQ | typeof Opcode.WRQ,
  file: string,
  mode: string,
  options: ReadonlyMap<string, string> = new Map(),
): Uint8Array {
  return withStrings(op, [file, mode, ...optionStrings(options)]);
}

/** Encodes an OACK. */
export function encodeOack(options: ReadonlyMap<string, string>): Uint8Array {
  return withStrings(Opcode.OACK, optionStrings(options));
}

/** Encodes an ERROR. */
export function encodeError(code: number, message: string): Uint8Array {
  const msg = encoder.encode(message);
  const out = new Uint8Array(5 + msg.length);
  out[1] = Opcode.ERROR;
  out[2] = (code >> 8) & 0xff;
  out[3] = code & 0xff;
  out.set(msg, 4);
  return out;
}

/** Encodes an ACK. `block` is taken modulo 65536. */
export function encodeAck(block: number): Uint8Array {
  return new Uint8Array([0, Opcode.ACK, (block >> 8) & 0xff, block & 0xff]);
}

/** Encodes a DATA packet (a copy of `data`). `block` is taken modulo 65536. */
export function encodeData(block: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + data.length);
  writeDataHeader(out, block);
  out.set(data, 4);
  return out;
}

/**
 * Writes the 4-byte DATA header into `buf` in place, so a sender can reuse one
 * buffer per window slot instead of allocating a packet per block.
 */
export function writeDataHeader(buf: Uint8Array, block: number): void {
  buf[0] = 0;
  buf[1] = Opcode.DATA;
  buf[2] = (block >> 8) & 0xff;
  buf[3] = block & 0xff;
}
