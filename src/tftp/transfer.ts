/**
 * @module
 * Drives one read transfer over its own ephemeral socket (RFC 1350 TIDs):
 * carries out the actions of the pure session (session.ts) with a socket,
 * a timer and a file. No logging here; the server logs the outcome.
 */
import type { TftpFile } from "./files.ts";
import { encodeError, encodeOack, ErrorCode, Opcode, writeDataHeader } from "./packet.ts";
import { initialState, type SessionAction, type SessionConfig, step } from "./session.ts";

export interface TransferOutcome {
  readonly ok: boolean;
  readonly error?: string;
  /** Bytes acknowledged by the client. */
  readonly bytes: number;
  readonly retransmits: number;
  /** Packets on the transfer socket that could not be decoded. */
  readonly malformed: number;
  /** Sends that failed locally (treated as lost). */
  readonly sendErrors: number;
}

export interface TransferParams {
  readonly conn: Deno.DatagramConn;
  readonly client: Deno.NetAddr;
  readonly file: TftpFile;
  readonly session: SessionConfig;
  readonly oack: ReadonlyMap<string, string> | null;
  readonly now: () => number;
}

type Received = [Uint8Array, Deno.Addr];

/** Runs a transfer to completion or failure. Never throws for network input. */
export async function runTransfer(p: TransferParams): Promise<TransferOutcome> {
  const { conn, client, file } = p;
  const { blksize, size } = p.session;
  let state = initialState(p.session);
  let malformed = 0;
  let pending: Promise<Received> | null = null;
  let deadline = 0;
  const slots: Uint8Array[] = [];
  const recvBuf = new Uint8Array(2048);

  const outcome = (ok: boolean, error?: string): TransferOutcome => ({
    ok,
    ...(error === undefined ? {} : { error }),
    bytes: Math.min(size, state.acked * blksize),
    retransmits: state.retransmits,
    malformed,
    sendErrors,
  });

  // A failed send (ENOBUFS under load, EPERM from a firewall) is a lost
  // packet: the timer retransmits, as for loss on the wire.
  let sendErrors = 0;
  const lost = () => {
    sendErrors++;
    return 0;
  };

  // Sends of the previous window; its slots are rewritten only once they settled.
  let inflight: Promise<number>[] = [];

  async function sendBlocks(from: number, to: number): Promise<void> {
    if (inflight.length > 0) {
      await Promise.all(inflight);
      inflight = [];
    }
    const start = (from - 1) * blksize;
    const want = Math.min(size, to * blksize) - start;
    const data = want > 0 ? await file.read(start, want) : new Uint8Array(0);
    if (data.length < want) throw new Error("file shrank during transfer");
    for (let b = from; b <= to; b++) {
      const i = b - from;
      const chunk = data.subarray(i * blksize, Math.min(data.length, (i + 1) * blksize));
      let slot = slots[i];
      if (!slot) {
        slot = new Uint8Array(blksize + 4);
        slots[i] = slot;
      }
      writeDataHeader(slot, b & 0xffff);
      slot.set(chunk, 4);
      // Not awaited here: waiting for the ACK overlaps with the send.
      inflight.push(conn.send(slot.subarray(0, 4 + chunk.length), client).catch(lost));
    }
  }

  async function perform(actions: readonly SessionAction[]): Promise<TransferOutcome | null> {
    for (const a of actions) {
      switch (a.type) {
        case "send-oack":
          await conn.send(encodeOack(p.oack ?? new Map()), client).catch(lost);
          break;
        case "send-blocks":
          await sendBlocks(a.from, a.to);
          break;
        case "wait":
          deadline = p.now() + a.timeoutMs;
          break;
        case "finish":
          return outcome(true);
        case "fail":
          if (a.sendError) {
            await conn.send(encodeError(ErrorCode.NOT_DEFINED, a.reason), client).catch(() => 0);
          }
          return outcome(false, a.reason);
      }
    }
    return null;
  }

  // One timer per deadline, not per packet: when it fires early (the
  // deadline moved on), it re-arms itself for the remainder.
  let timeoutP: Promise<null> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  function timeoutPromise(): Promise<null> {
    if (timeoutP) return timeoutP;
    timeoutP = new Promise<null>((resolve) => {
      const arm = () => {
        const left = deadline - p.now();
        if (left <= 0) {
          timeoutP = null;
          timer = undefined;
          resolve(null);
        } else timer = setTimeout(arm, left);
      };
      arm();
    });
    return timeoutP;
  }

  async function receive(): Promise<Received | null> {
    pending ??= conn.receive(recvBuf);
    const r = await Promise.race([pending, timeoutPromise()]);
    if (r !== null) pending = null;
    return r;
  }

  try {
    let actions: SessionAction[];
    [state, actions] = step(state, { type: "start" });
    let done = await perform(actions);
    while (done === null) {
      const r = await receive();
      if (r === null) {
        [state, actions] = step(state, { type: "timeout" });
      } else {
        const [bytes, from] = r;
        const remote = from as Deno.NetAddr;
        if (remote.hostname !== client.hostname || remote.port !== client.port) {
          // Another TID: tell it off, keep serving ours (RFC 1350 section 4).
          await conn.send(encodeError(ErrorCode.UNKNOWN_TID, "unknown transfer id"), remote)
            .catch(() => 0);
          continue;
        }
        const event = decodeEvent(bytes);
        if (event === null) {
          malformed++;
          continue;
        }
        if (event === undefined) continue;
        [state, actions] = step(state, event);
      }
      done = await perform(actions);
    }
    return done;
  } catch (e) {
    return outcome(false, e instanceof Error ? e.message : String(e));
  } finally {
    clearTimeout(timer);
  }
}

/** Decodes what the client sent: an event, undefined (ignore) or null (malformed). */
function decodeEvent(bytes: Uint8Array) {
  // Hot path: ACKs are parsed inline, without allocating a packet object.
  if (bytes.length < 4 || bytes[0] !== 0) return null;
  const op = bytes[1];
  if (op === Opcode.ACK) return { type: "ack" as const, block: (bytes[2]! << 8) | bytes[3]! };
  if (op === Opcode.ERROR) {
    const end = bytes.indexOf(0, 4);
    const message = new TextDecoder().decode(bytes.subarray(4, end < 0 ? bytes.length : end));
    return { type: "client-error" as const, code: (bytes[2]! << 8) | bytes[3]!, message };
  }
  if (op !== undefined && op >= Opcode.RRQ && op <= Opcode.OACK) return undefined;
  return null;
}
