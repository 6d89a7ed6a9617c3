/**
 * @module
 * Drives one read transfer over its own ephemeral socket (RFC 1350 TIDs):
 * carries out the actions of the pure session (session.ts) with a
 * nonblocking socket in the process's reactor. The reactor calls
 * `ready()` when ACKs are queued and `timeout()` at the deadline; both run
 * synchronously, so an ACK is answered with the next DATA without awaiting
 * anything (one poll wake-up per round trip, shared by every transfer that is
 * ready at the same time). Only a file read that is not buffered yet goes
 * async, and the socket is paused meanwhile. No logging here; the server logs
 * the outcome.
 */
import type { DgramSocket, Reactor, Registration } from "../net/mod.ts";
import type { TftpFile } from "./files.ts";
import { encodeError, encodeOack, ErrorCode, Opcode, writeDataHeader } from "./packet.ts";
import {
  initialState,
  type SessionAction,
  type SessionConfig,
  type SessionEvent,
  type SessionState,
  step,
} from "./session.ts";

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
  /** The client stopped after the OACK: it only asked for the size (see SessionAction). */
  readonly sizeProbe?: boolean;
}

export interface TransferParams {
  readonly reactor: Reactor;
  /** The transfer's own socket; the transfer closes it when it ends. */
  readonly socket: DgramSocket;
  /** Client address and port (its TID), IPv4 as a u32. */
  readonly clientIp: number;
  readonly clientPort: number;
  readonly file: TftpFile;
  readonly session: SessionConfig;
  readonly oack: ReadonlyMap<string, string> | null;
  readonly now: () => number;
}

export interface RunningTransfer {
  /** Settles when the transfer ends; never rejects. */
  readonly done: Promise<TransferOutcome>;
  /** Ends the transfer now (no ERROR is sent). */
  abort(reason: string): void;
  /**
   * Ends the transfer now after sending the client an ERROR packet (`code`,
   * `message`) from the transfer's port, so it stops at once instead of
   * retransmitting until its own timeout. True when the kernel took the
   * ERROR; false when it refused it or the transfer had already ended.
   */
  abortWithError(reason: string, code: number, message: string): boolean;
}

/**
 * Datagrams handled per readiness report. One: a lock-step client has at
 * most one ACK queued, and another read would almost always come back empty
 * (a syscall per block for nothing); anything left is reported again at once.
 */
const DRAIN_MAX = 1;

class Transfer {
  readonly #p: TransferParams;
  #state: SessionState;
  #malformed = 0;
  #sendErrors = 0;
  #sizeProbe = false;
  #finished = false;
  #busy = false;
  readonly #slot: Uint8Array<ArrayBuffer>;
  readonly #recvBuf = new Uint8Array(2048);
  readonly #reg: Registration;
  #resolve: (o: TransferOutcome) => void = () => {};
  readonly done: Promise<TransferOutcome>;

  constructor(p: TransferParams) {
    this.#p = p;
    this.#state = initialState(p.session);
    this.#slot = new Uint8Array(p.session.blksize + 4);
    this.done = new Promise((r) => this.#resolve = r);
    try {
      this.#reg = p.reactor.add(p.socket, this);
    } catch (e) {
      p.socket.close();
      throw e;
    }
  }

  start(): void {
    this.#event({ type: "start" });
  }

  abort(reason: string): void {
    this.#finish(false, reason);
  }

  abortWithError(reason: string, code: number, message: string): boolean {
    if (this.#finished) return false;
    // Sent before #finish closes the socket; a file read in flight is simply dropped.
    const failures = this.#sendErrors;
    this.#send(encodeError(code, message));
    const sent = this.#sendErrors === failures;
    this.#finish(false, reason);
    return sent;
  }

  /** Reactor: the socket has datagrams. */
  ready(): void {
    const { socket, clientIp, clientPort } = this.#p;
    for (let i = 0; i < DRAIN_MAX; i++) {
      // While a file read runs, ACKs stay queued in the kernel.
      if (this.#finished || this.#busy) return;
      const n = socket.recvInto(this.#recvBuf);
      if (n < 0) return;
      if (socket.fromIp !== clientIp || socket.fromPort !== clientPort) {
        // Another TID: tell it off, keep serving ours (RFC 1350 section 4).
        this.#sendTo(
          encodeError(ErrorCode.UNKNOWN_TID, "unknown transfer id"),
          socket.fromIp,
          socket.fromPort,
        );
        continue;
      }
      const event = decodeEvent(this.#recvBuf, n);
      if (event === null) {
        this.#malformed++;
        continue;
      }
      if (event !== undefined) this.#event(event);
    }
  }

  /** Reactor: the deadline passed. */
  timeout(): void {
    if (!this.#finished && !this.#busy) this.#event({ type: "timeout" });
  }

  #event(e: SessionEvent): void {
    let actions: SessionAction[];
    [this.#state, actions] = step(this.#state, e);
    try {
      this.#apply(actions, 0);
    } catch (err) {
      this.#finish(false, err instanceof Error ? err.message : String(err));
    }
  }

  #apply(actions: readonly SessionAction[], from: number): void {
    for (let i = from; i < actions.length && !this.#finished; i++) {
      const a = actions[i]!;
      switch (a.type) {
        case "send-oack":
          this.#send(encodeOack(this.#p.oack ?? new Map()));
          break;
        case "send-blocks": {
          const next = this.#sendBlocksSync(a.from, a.to);
          if (next <= a.to) {
            this.#sendBlocksAsync(next, a.to, () => this.#apply(actions, i + 1));
            return;
          }
          break;
        }
        case "wait":
          this.#reg.deadline = this.#p.now() + a.timeoutMs;
          break;
        case "finish":
          this.#finish(true);
          break;
        case "fail":
          if (a.sendError) this.#send(encodeError(ErrorCode.NOT_DEFINED, a.reason));
          if (a.sizeProbe === true) this.#sizeProbe = true;
          this.#finish(false, a.reason);
          break;
      }
    }
  }

  /** Sends blocks from memory or the read-ahead; returns the first block it could not. */
  #sendBlocksSync(from: number, to: number): number {
    const { file } = this.#p;
    if (!file.readInto) return from;
    const { blksize, size } = this.#p.session;
    for (let b = from; b <= to; b++) {
      const start = (b - 1) * blksize;
      const len = Math.max(0, Math.min(blksize, size - start));
      if (len > 0) {
        const got = file.readInto(start, this.#slot.subarray(4, 4 + len));
        if (got === null) return b;
        if (got < len) throw new Error("file shrank during transfer");
      }
      writeDataHeader(this.#slot, b & 0xffff);
      this.#send(this.#slot.subarray(0, 4 + len));
    }
    return to + 1;
  }

  /** Waits for the file, sends the rest of the window, then carries on with `then`. */
  #sendBlocksAsync(from: number, to: number, then: () => void): void {
    const { file } = this.#p;
    const { blksize, size } = this.#p.session;
    this.#busy = true;
    this.#reg.paused = true;
    const start = (from - 1) * blksize;
    const want = Math.max(0, Math.min(size, to * blksize) - start);
    (async () => {
      const data = want > 0 ? await file.read(start, want) : new Uint8Array(0);
      if (this.#finished) return;
      if (data.length < want) throw new Error("file shrank during transfer");
      for (let b = from; b <= to; b++) {
        const i = b - from;
        const chunk = data.subarray(i * blksize, Math.min(data.length, (i + 1) * blksize));
        writeDataHeader(this.#slot, b & 0xffff);
        this.#slot.set(chunk, 4);
        this.#send(this.#slot.subarray(0, 4 + chunk.length));
      }
      this.#busy = false;
      this.#reg.paused = false;
      then();
    })().catch((e) => this.#finish(false, e instanceof Error ? e.message : String(e)));
  }

  #send(bytes: Uint8Array): void {
    this.#sendTo(bytes, this.#p.clientIp, this.#p.clientPort);
  }

  #sendTo(bytes: Uint8Array, ip: number, port: number): void {
    // A failed send (ENOBUFS under load, EPERM from a firewall) is a lost
    // packet: the timer retransmits, as for loss on the wire.
    if (this.#p.socket.sendTo(bytes as Uint8Array<ArrayBuffer>, ip, port) !== 0) {
      this.#sendErrors++;
    }
  }

  #finish(ok: boolean, error?: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#reg.close();
    const { size, blksize } = this.#p.session;
    this.#resolve({
      ok,
      ...(error === undefined ? {} : { error }),
      bytes: Math.min(size, this.#state.acked * blksize),
      retransmits: this.#state.retransmits,
      malformed: this.#malformed,
      sendErrors: this.#sendErrors,
      ...(this.#sizeProbe ? { sizeProbe: true } : {}),
    });
  }
}

/** Starts a transfer (sends its OACK or first DATA now). */
export function startTransfer(p: TransferParams): RunningTransfer {
  const t = new Transfer(p);
  t.start();
  return {
    done: t.done,
    abort: (reason) => t.abort(reason),
    abortWithError: (reason, code, message) => t.abortWithError(reason, code, message),
  };
}

/** Decodes what the client sent: an event, undefined (ignore) or null (malformed). */
function decodeEvent(bytes: Uint8Array, length: number): SessionEvent | null | undefined {
  // Hot path: ACKs are parsed inline, without allocating a packet object.
  if (length < 4 || bytes[0] !== 0) return null;
  const op = bytes[1];
  if (op === Opcode.ACK) return { type: "ack", block: (bytes[2]! << 8) | bytes[3]! };
  if (op === Opcode.ERROR) {
    const end = bytes.subarray(0, length).indexOf(0, 4);
    const message = new TextDecoder().decode(bytes.subarray(4, end < 0 ? length : end));
    return { type: "client-error", code: (bytes[2]! << 8) | bytes[3]!, message };
  }
  if (op !== undefined && op >= Opcode.RRQ && op <= Opcode.OACK) return undefined;
  return null;
}
