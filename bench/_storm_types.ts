/**
 * @module
 * What bench/storm.ts hands its generator and probe processes, and what they
 * write back (JSON files): per-node timelines and probe samples.
 */

/** The boot stages of a simulated node, in order. */
export const STAGES = [
  "dhcp-pxe",
  "tftp",
  "dhcp-ipxe",
  "script",
  "kernel",
  "initrd",
  "dhcp-linux",
  "overlay",
  "report",
] as const;
export type Stage = typeof STAGES[number];

export interface NodeSpec {
  readonly mac: string;
  readonly uuid: string;
  /** Option 93: 0 BIOS, 7 x64 UEFI. */
  readonly arch: number;
  /** TFTP block size the firmware asks for (512: no blksize option). */
  readonly blksize: number;
}

export interface GenConfig {
  readonly iface: string;
  readonly nodes: readonly NodeSpec[];
  /** Nodes start at random offsets within this many ms. */
  readonly spreadMs: number;
  /** A node not online this many ms after the generator's start has failed. */
  readonly boundMs: number;
  /** Where the result (GenResult) is written. */
  readonly out: string;
}

export interface StageRecord {
  readonly stage: Stage;
  /** Epoch ms (performance.timeOrigin + now). */
  readonly start: number;
  end: number;
  ok: boolean;
  bytes: number;
  /** DHCP/TFTP retransmits, or HTTP attempts that failed and were retried. */
  retries: number;
  /** DHCP only: DISCOVER→OFFER and REQUEST→ACK of the answered sends, ms. */
  offerMs?: number;
  ackMs?: number;
  /** TFTP only: RRQ to the server's first answer, ms. */
  firstMs?: number;
  error?: string;
}

export interface NodeResult {
  readonly mac: string;
  readonly arch: number;
  readonly blksize: number;
  ip: string;
  id: string;
  start: number;
  online: boolean;
  /** End of the report stage (epoch ms), when online. */
  onlineAt?: number;
  httpErrors: number;
  readonly stages: StageRecord[];
  error?: string;
}

export interface GenResult {
  readonly t0: number;
  readonly end: number;
  readonly nodes: NodeResult[];
  readonly dhcpSendErrors: number;
  readonly dhcpDecodeErrors: number;
  /** How late the generator's 100 ms timer fired (event-loop lag), ms. */
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
}

export interface ProbeConfig {
  readonly iface: string;
  /** MACs the probe cycles through (few, so an offer per MAC is all it holds). */
  readonly macs: readonly string[];
  readonly intervalMs: number;
  /** How long one DISCOVER waits for its OFFER before it counts as lost. */
  readonly timeoutMs: number;
  /** The probe stops when this file appears, or after maxMs. */
  readonly stopFile: string;
  readonly maxMs: number;
  readonly out: string;
}

export interface ProbeSample {
  /** Epoch ms of the DISCOVER. */
  readonly at: number;
  /** OFFER latency in ms; null when none came within the timeout. */
  readonly ms: number | null;
}

export interface ProbeResult {
  readonly samples: ProbeSample[];
}

/** Epoch ms with sub-ms resolution, comparable across the bench's processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}
