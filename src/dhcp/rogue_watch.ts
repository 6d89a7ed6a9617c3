/**
 * @module
 * The rogue guard's ears (I/O shell): a raw socket on a served interface
 * that hears DHCP replies to clients (UDP port 68) and reports the ones from
 * another address server (rogue_guard.ts decides). Passive: it sends
 * nothing. It hears what reaches our port: replies broadcast to clients (PXE
 * firmware and most clients ask for that) and whatever the switch floods.
 * Our own replies are not seen (the socket ignores outgoing frames) and are
 * told apart by address and MAC anyway.
 */
import {
  bpfUdpDstPort,
  decodeUdpFrame,
  RawSocket,
  Reactor,
  type Registration,
} from "../net/mod.ts";
import { DHCP_CLIENT_PORT } from "./constants.ts";
import { decodePacket } from "./packet.ts";
import {
  classifyReply,
  type ForeignIgnore,
  type ForeignServer,
  type OwnServer,
} from "./rogue_guard.ts";

export interface RogueWatchOptions {
  readonly ifname: string;
  readonly own: OwnServer;
  /** Called at the first reply of each foreign server, then at most every `repeatMs`. */
  readonly onForeign: (s: ForeignServer) => void;
  readonly repeatMs?: number;
  readonly reactor?: Reactor;
}

/** Frames read per turn before the reactor serves others. */
const DRAIN_BURST = 256;

/** Watches one interface for other DHCP servers. */
export class RogueWatch {
  readonly #sock: RawSocket;
  readonly #reg: Registration;
  readonly #buf = new Uint8Array(2048);
  readonly #lastReport = new Map<string, number>();
  readonly #opts: RogueWatchOptions;
  readonly ignored: Partial<Record<ForeignIgnore | "malformed", number>> = {};
  foreign = 0;

  constructor(opts: RogueWatchOptions) {
    this.#opts = opts;
    this.#sock = RawSocket.open(opts.ifname, bpfUdpDstPort(DHCP_CLIENT_PORT), { rcvbuf: 1 << 20 });
    this.#reg = (opts.reactor ?? Reactor.shared()).add(this.#sock, {
      ready: () => this.#drain(),
      timeout: () => {},
    });
  }

  #drain(): void {
    for (let i = 0; i < DRAIN_BURST; i++) {
      const n = this.#sock.recvInto(this.#buf);
      if (n < 0) return;
      this.#heard(this.#buf.subarray(0, n));
    }
  }

  #heard(frame: Uint8Array): void {
    let verdict;
    try {
      const udp = decodeUdpFrame(frame, true);
      if (udp === null) return this.#count("malformed");
      verdict = classifyReply(decodePacket(udp.payload), udp, this.#opts.own);
    } catch {
      return this.#count("malformed");
    }
    if ("ignore" in verdict) return this.#count(verdict.ignore);
    this.foreign++;
    const key = `${verdict.foreign.serverId} ${verdict.foreign.serverMac}`;
    const now = performance.now();
    const last = this.#lastReport.get(key);
    if (last !== undefined && now - last < (this.#opts.repeatMs ?? 60_000)) return;
    // Bounded: a flood of made-up servers keeps at most this many entries.
    if (this.#lastReport.size >= 1024) this.#lastReport.clear();
    this.#lastReport.set(key, now);
    this.#opts.onForeign(verdict.foreign);
  }

  #count(r: ForeignIgnore | "malformed"): void {
    this.ignored[r] = (this.ignored[r] ?? 0) + 1;
  }

  close(): void {
    this.#reg.close();
  }
}
