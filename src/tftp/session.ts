/**
 * @module
 * The per-transfer state machine of a read transfer: events in, actions out.
 * Pure: the driver owns sockets, timers and file reads.
 *
 * Blocks are counted with absolute numbers (1, 2, ... past 65535); only the
 * wire carries them modulo 65536, so files above 32 MB (512-byte blocks) or
 * 93 MB (1468) transfer completely. After 65535 the wire number rolls over to
 * 0, which is what tftp-hpa, curl, atftp and iPXE expect.
 *
 * Retransmission happens only on timeout, never on a duplicate ACK: that is
 * the fix for the Sorcerer's Apprentice bug (RFC 1123 4.2.3.1), where
 * answering every duplicate ACK doubles the traffic for the rest of the file.
 */

export interface SessionConfig {
  /** Bytes that will be sent (after netascii conversion). */
  readonly size: number;
  readonly blksize: number;
  readonly windowsize: number;
  /** Whether an OACK opens the transfer (then ACK 0 is awaited first). */
  readonly oack: boolean;
  /** Base timeout; doubled after every consecutive timeout. */
  readonly timeoutMs: number;
  /** Upper bound for the backed-off timeout. */
  readonly maxTimeoutMs: number;
  /** Consecutive timeouts tolerated before giving up. */
  readonly retries: number;
}

export interface SessionState {
  readonly config: SessionConfig;
  /** Absolute number of the last block (the first one shorter than blksize). */
  readonly lastBlock: number;
  /** Highest block the client acknowledged (0 = none, or the OACK). */
  readonly acked: number;
  /** Highest block sent so far (0 = none). */
  readonly sent: number;
  readonly oackPending: boolean;
  /** Consecutive timeouts without progress. */
  readonly timeouts: number;
  /** Blocks (and OACKs) sent more than once. */
  readonly retransmits: number;
  readonly done: boolean;
}

export type SessionEvent =
  | { readonly type: "start" }
  | { readonly type: "ack"; readonly block: number }
  | { readonly type: "timeout" }
  | { readonly type: "client-error"; readonly code: number; readonly message: string };

export type SessionAction =
  | { readonly type: "send-oack" }
  /** Send blocks `from`..`to` (absolute, inclusive). */
  | { readonly type: "send-blocks"; readonly from: number; readonly to: number }
  | { readonly type: "wait"; readonly timeoutMs: number }
  | { readonly type: "finish" }
  | {
    readonly type: "fail";
    readonly reason: string;
    readonly sendError: boolean;
    /**
     * The client ended it right after the option negotiation, before ACK 0:
     * it wanted only the OACK's tsize (OVMF does this before every real
     * download, with error 8). Not a failed transfer.
     */
    readonly sizeProbe?: boolean;
  };

/** Absolute number of the last block for a size: always one short (possibly empty) block. */
export function lastBlockFor(size: number, blksize: number): number {
  return Math.floor(size / blksize) + 1;
}

/** Byte range of an absolute block. */
export function blockRange(block: number, size: number, blksize: number): [number, number] {
  const start = (block - 1) * blksize;
  return [start, Math.min(size, start + blksize)];
}

export function initialState(config: SessionConfig): SessionState {
  return {
    config,
    lastBlock: lastBlockFor(config.size, config.blksize),
    acked: 0,
    sent: 0,
    oackPending: config.oack,
    timeouts: 0,
    retransmits: 0,
    done: false,
  };
}

function currentTimeout(s: SessionState): number {
  const t = s.config.timeoutMs * 2 ** s.timeouts;
  return Math.min(t, Math.max(s.config.maxTimeoutMs, s.config.timeoutMs));
}

/** Sends the window starting after the acknowledged block. */
function sendWindow(s: SessionState): [SessionState, SessionAction[]] {
  const from = s.acked + 1;
  const to = Math.min(s.lastBlock, s.acked + s.config.windowsize);
  const resent = Math.max(0, Math.min(to, s.sent) - from + 1);
  const next = { ...s, sent: Math.max(s.sent, to), retransmits: s.retransmits + resent };
  return [next, [{ type: "send-blocks", from, to }, {
    type: "wait",
    timeoutMs: currentTimeout(next),
  }]];
}

/**
 * Maps a 16-bit wire block number onto the absolute block it acknowledges,
 * or null when it is not within [acked, sent] (stale or bogus).
 */
export function absoluteAck(s: SessionState, wire: number): number | null {
  const delta = (wire - (s.acked & 0xffff)) & 0xffff;
  const abs = s.acked + delta;
  return abs <= s.sent ? abs : null;
}

/** Applies one event. Never throws; a finished session ignores further events. */
export function step(s: SessionState, e: SessionEvent): [SessionState, SessionAction[]] {
  if (s.done) return [s, []];
  switch (e.type) {
    case "start":
      if (s.oackPending) {
        return [s, [{ type: "send-oack" }, { type: "wait", timeoutMs: currentTimeout(s) }]];
      }
      return sendWindow(s);
    case "ack": {
      if (s.oackPending) {
        // Only ACK 0 accepts the OACK; anything else is noise.
        if (e.block !== 0) return [s, []];
        return sendWindow({ ...s, oackPending: false, timeouts: 0 });
      }
      const abs = absoluteAck(s, e.block);
      // Duplicate (abs === acked) or out of range: ignore, let the timer decide.
      if (abs === null || abs <= s.acked) return [s, []];
      const progressed = { ...s, acked: abs, timeouts: 0 };
      if (abs >= s.lastBlock) return [{ ...progressed, done: true }, [{ type: "finish" }]];
      // A mid-window ACK (RFC 7440: the client saw a gap) restarts after it.
      return sendWindow(progressed);
    }
    case "timeout": {
      const timeouts = s.timeouts + 1;
      if (timeouts > s.config.retries) {
        return [{ ...s, timeouts, done: true }, [{
          type: "fail",
          reason: "timeout",
          sendError: true,
        }]];
      }
      const backed = { ...s, timeouts };
      if (s.oackPending) {
        return [{ ...backed, retransmits: s.retransmits + 1 }, [
          { type: "send-oack" },
          { type: "wait", timeoutMs: currentTimeout(backed) },
        ]];
      }
      return sendWindow(backed);
    }
    case "client-error":
      return [{ ...s, done: true }, [{
        type: "fail",
        reason: `client error ${e.code}: ${e.message}`,
        sendError: false,
        ...(s.oackPending ? { sizeProbe: true } : {}),
      }]];
  }
}
