/**
 * @module
 * The DHCP server's counters (all monotonic) and the small bookkeeping the
 * loop does with them: ignore reasons counted by shape in a bounded table,
 * replies counted by message type.
 */
import { MessageType, messageTypeName } from "./constants.ts";

/** Counters, all monotonic. */
export interface DhcpServerStats {
  received: number;
  replied: number;
  offers: number;
  acks: number;
  naks: number;
  dropped: {
    /** DecodeError: not a DHCP message we can read. */
    malformed: number;
    /** The responder decided not to answer. */
    ignored: number;
    /** Unexpected failures (encode, commit, send). */
    errors: number;
    /** The kernel refused the reply (after a few tries). */
    sendFailures: number;
    /** Frames on port 67 that were not valid IPv4/UDP. */
    badFrames: number;
    /** Replies held back because their lease changes could not be committed. */
    notDurable: number;
    /** Requests from a MAC over its budget (ClientBudget): dropped before the responder. */
    rateLimited: number;
    /**
     * DISCOVERs unanswered because their pool had no free address (also
     * counted in `ignored`); logged once per pool per minute.
     */
    poolExhausted: number;
  };
  /** Ignore reasons and how often each happened (bounded set). */
  ignoreReasons: Record<string, number>;
  /**
   * Decisions by the request's message type: "DISCOVER reply", "REQUEST
   * ignore" (bounded: the known types, others as "OTHER").
   */
  decisions: Record<string, number>;
  commits: number;
  probes: number;
  conflicts: number;
  /** Replies sent again at once because the kernel's queue was full. */
  sendRetries: number;
}

const MAX_REASONS = 64;

export function newStats(): DhcpServerStats {
  return {
    received: 0,
    replied: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    dropped: {
      malformed: 0,
      ignored: 0,
      errors: 0,
      sendFailures: 0,
      badFrames: 0,
      notDurable: 0,
      rateLimited: 0,
      poolExhausted: 0,
    },
    ignoreReasons: {},
    decisions: {},
    commits: 0,
    probes: 0,
    conflicts: 0,
    sendRetries: 0,
  };
}

/** Counts one unanswered request under its reason's shape. */
export function countIgnore(stats: DhcpServerStats, reason: string): void {
  stats.dropped.ignored++;
  // Reasons embed addresses and numbers; count them by their shape. The cap
  // keeps the table small whatever a flood of odd packets makes of it.
  const shape = reason.replace(/\d+/g, "#");
  const key = shape.length > 60 ? shape.slice(0, 60) : shape;
  if (key in stats.ignoreReasons || Object.keys(stats.ignoreReasons).length < MAX_REASONS) {
    stats.ignoreReasons[key] = (stats.ignoreReasons[key] ?? 0) + 1;
  }
}

/** Counts one reply the kernel took, by its message type. */
export function countReply(stats: DhcpServerStats, type: number | undefined): void {
  stats.replied++;
  if (type === MessageType.Offer) stats.offers++;
  else if (type === MessageType.Ack) stats.acks++;
  else if (type === MessageType.Nak) stats.naks++;
}

const KNOWN_TYPES = new Set<number>(Object.values(MessageType));

/** Counts the responder's decision on one request, by the request's message type. */
export function countDecision(
  stats: DhcpServerStats,
  type: number | undefined,
  kind: "reply" | "ignore",
): void {
  const name = type === undefined
    ? "BOOTP"
    : KNOWN_TYPES.has(type)
    ? messageTypeName(type)
    : "OTHER";
  const key = `${name} ${kind}`;
  stats.decisions[key] = (stats.decisions[key] ?? 0) + 1;
}
