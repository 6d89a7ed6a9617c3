/**
 * @module
 * A small TFTP read client for tests on 127.0.0.1 (lock-step or windowed).
 * Test-only: real clients judge the server in tests/tftp.
 */
import { decodePacket, encodeAck, encodeRequest, Opcode, type Packet } from "./packet.ts";

export interface GetResult {
  readonly ok: boolean;
  readonly data: Uint8Array;
  readonly error?: { code: number; message: string };
  readonly oack?: ReadonlyMap<string, string>;
}

/** Sends raw bytes to the server and returns the first reply (or null after `ms`). */
export async function exchange(
  port: number,
  bytes: Uint8Array,
  ms = 2000,
): Promise<Packet | null> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await conn.send(bytes, { transport: "udp", hostname: "127.0.0.1", port });
    const got = await receiveWithin(conn, ms);
    return got === null ? null : decodePacket(got[0]);
  } finally {
    conn.close();
  }
}

async function receiveWithin(
  conn: Deno.DatagramConn,
  ms: number,
): Promise<[Uint8Array, Deno.NetAddr] | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const recv = conn.receive().then((r) =>
    [r[0], r[1] as Deno.NetAddr] as [Uint8Array, Deno.NetAddr]
  );
  recv.catch(() => {});
  const t = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
  try {
    return await Promise.race([recv, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fetches a file. Simple on purpose: no retransmission of ACKs except on timeout. */
export async function tftpGet(
  port: number,
  file: string,
  opts: { options?: Record<string, string>; mode?: string; timeoutMs?: number } = {},
): Promise<GetResult> {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const chunks: Uint8Array[] = [];
  const server = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const options = new Map(Object.entries(opts.options ?? {}));
  const blksize = Number(options.get("blksize") ?? 512);
  let negotiatedBlk = 512;
  let expected = 1;
  let oack: ReadonlyMap<string, string> | undefined;
  let tid: Deno.NetAddr | null = null;
  let lastAck: Uint8Array | null = null;
  const finish = (ok: boolean, error?: { code: number; message: string }): GetResult => {
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const data = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    return { ok, data, ...(error ? { error } : {}), ...(oack ? { oack } : {}) };
  };
  try {
    await conn.send(encodeRequest(Opcode.RRQ, file, opts.mode ?? "octet", options), server);
    let timeouts = 0;
    for (;;) {
      const got = await receiveWithin(conn, opts.timeoutMs ?? 2000);
      if (got === null) {
        if (++timeouts > 5) return finish(false, { code: -1, message: "client timeout" });
        if (lastAck && tid) await conn.send(lastAck, tid);
        continue;
      }
      timeouts = 0;
      const [bytes, from] = got;
      tid ??= from;
      const p = decodePacket(bytes);
      if (p.op === Opcode.ERROR) return finish(false, { code: p.code, message: p.message });
      if (p.op === Opcode.OACK) {
        oack = p.options;
        negotiatedBlk = Number(p.options.get("blksize") ?? 512);
        lastAck = encodeAck(0);
        await conn.send(lastAck, tid);
        continue;
      }
      if (p.op !== Opcode.DATA) continue;
      if (p.block === (expected & 0xffff)) {
        chunks.push(p.data.slice());
        expected++;
        lastAck = encodeAck(p.block);
        const window = Number(oack?.get("windowsize") ?? 1);
        const last = p.data.length < (oack ? negotiatedBlk : Math.min(blksize, 512));
        if (last || (expected - 1) % window === 0) await conn.send(lastAck, tid);
        if (last) return finish(true);
      }
    }
  } finally {
    conn.close();
  }
}

/** True when the real tftp-hpa client is installed. */
export function hasTftpHpa(): boolean {
  try {
    return Deno.statSync("/usr/bin/tftp").isFile;
  } catch {
    return false;
  }
}

/** tftp-hpa's arguments to get `file` in binary mode from 127.0.0.1:`port` into `out`. */
export function tftpHpaGet(port: number, file: string, out: string): string[] {
  return ["127.0.0.1", String(port), "-m", "binary", "-c", "get", file, out];
}
