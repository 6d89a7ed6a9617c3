/**
 * @module
 * The TFTP client of bench/storm.ts, as PXE firmware runs it: one RRQ
 * (blksize and tsize, or none for old ROMs that use 512-byte blocks), then
 * lock-step ACKs, each block waited for with a timeout that starts at 1 s and
 * doubles, 5 tries, then the transfer fails. Bytes are counted, not kept.
 */
import { decodePacket, encodeAck, encodeRequest, Opcode } from "../src/tftp/mod.ts";

export interface TftpResult {
  readonly ok: boolean;
  readonly bytes: number;
  readonly retransmits: number;
  /** ms from the first RRQ to the server's first answer (OACK or DATA); NaN without one. */
  readonly firstMs: number;
  readonly error?: string;
}

const TRIES = 5;
const FIRST_TIMEOUT_MS = 1000;
const MAX_PACKETS = 4 * 65536;

/** Datagrams of one socket, awaited with a timeout (Deno's receive has none). */
class Inbox {
  readonly #queue: [Uint8Array, Deno.NetAddr][] = [];
  #wake: (() => void) | null = null;
  #closed = false;

  constructor(readonly conn: Deno.DatagramConn) {
    this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      for (;;) {
        const [data, addr] = await this.conn.receive();
        this.#queue.push([data, addr as Deno.NetAddr]);
        this.#wake?.();
      }
    } catch {
      this.#closed = true;
      this.#wake?.();
    }
  }

  async next(timeoutMs: number): Promise<[Uint8Array, Deno.NetAddr] | null> {
    const until = performance.now() + timeoutMs;
    while (this.#queue.length === 0 && !this.#closed) {
      const left = until - performance.now();
      if (left <= 0) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((res) => {
        this.#wake = res;
        timer = setTimeout(res, left);
      });
      clearTimeout(timer);
      this.#wake = null;
    }
    return this.#queue.shift() ?? null;
  }
}

/** Fetches `file` from `server` over TFTP from local address `localIp`. */
export async function tftpGet(
  localIp: string,
  server: string,
  file: string,
  blksize: number,
): Promise<TftpResult> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: localIp, port: 0 });
  const inbox = new Inbox(conn);
  let retransmits = 0;
  let bytes = 0;
  let firstMs = NaN;
  const sent = performance.now();
  try {
    const opts = new Map<string, string>([["tsize", "0"]]);
    if (blksize !== 512) opts.set("blksize", String(blksize));
    const rrq = encodeRequest(Opcode.RRQ, file, "octet", opts) as Uint8Array<ArrayBuffer>;
    let last = rrq;
    let to: Deno.NetAddr = { transport: "udp", hostname: server, port: 69 };
    let peer: Deno.NetAddr | null = null;
    let expect = 1;
    let size = blksize === 512 ? 512 : 0; // 0: not known until the OACK (or first DATA)
    await conn.send(rrq, to);
    // Bounded: a file of 65535 blocks, each with its duplicates and retransmits.
    for (let n = 0, tries = 0, timeout = FIRST_TIMEOUT_MS; n < MAX_PACKETS; n++) {
      const got = await inbox.next(timeout);
      if (got === null) {
        if (++tries >= TRIES) {
          return {
            ok: false,
            bytes,
            retransmits,
            firstMs,
            error: `timeout waiting for block ${expect}`,
          };
        }
        timeout *= 2;
        retransmits++;
        await conn.send(last, to);
        continue;
      }
      const [data, from] = got;
      if (peer !== null && from.port !== peer.port) continue; // another TID: not ours
      let p;
      try {
        p = decodePacket(data);
      } catch {
        continue;
      }
      if (p.op === Opcode.ERROR) {
        return { ok: false, bytes, retransmits, firstMs, error: `error ${p.code}: ${p.message}` };
      }
      if (peer === null) {
        peer = from;
        to = from;
        firstMs = performance.now() - sent;
      }
      if (p.op === Opcode.OACK) {
        if (expect !== 1 || bytes !== 0) continue;
        size = Number(p.options.get("blksize") ?? 512);
        last = encodeAck(0) as Uint8Array<ArrayBuffer>;
      } else if (p.op === Opcode.DATA) {
        // A duplicate of a block already acknowledged is not answered again
        // (that would double every later block: the Sorcerer's Apprentice).
        if (p.block !== (expect & 0xffff)) continue;
        if (size === 0) size = 512; // the server ignored our options
        bytes += p.data.length;
        last = encodeAck(p.block) as Uint8Array<ArrayBuffer>;
        expect++;
        if (p.data.length < size) {
          await conn.send(last, to);
          return { ok: true, bytes, retransmits, firstMs };
        }
      } else {
        continue;
      }
      tries = 0;
      timeout = FIRST_TIMEOUT_MS;
      await conn.send(last, to);
    }
    return { ok: false, bytes, retransmits, firstMs, error: `more than ${MAX_PACKETS} packets` };
  } catch (e) {
    return {
      ok: false,
      bytes,
      retransmits,
      firstMs,
      error: e instanceof Error ? e.message : String(e),
    };
  } finally {
    conn.close();
  }
}
