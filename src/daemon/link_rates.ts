/**
 * @module
 * The link rate behind each of our addresses, for pacing large downloads at
 * fair shares of it (`http.pacing`). The HTTP engine asks synchronously on a
 * download's first byte, so rates are kept in a table refreshed from netlink
 * (at start and every REFRESH_MS: addresses come and go with rescans).
 */
import { getLogger } from "@logtape/logtape";
import type { Pacing } from "../config/mod.ts";
import { listInterfaces, type NetInterface } from "../net/mod.ts";

const log = getLogger(["mesh", "http"]);
const REFRESH_MS = 30_000;
/** Mbit/s to bytes/s. */
const BYTES_PER_MBIT = 125_000;

/** Bytes/s per local IPv4 address (u32) under `pacing`. Pure. */
export function linkRates(
  pacing: Pacing,
  interfaces: readonly NetInterface[],
): Map<number, number> {
  const rates = new Map<number, number>();
  if (pacing === "off") return rates;
  for (const itf of interfaces) {
    if (itf.loopback) continue;
    const mbps = pacing === "auto" ? itf.speedMbps : pacing;
    if (mbps === null || !(mbps > 0)) continue;
    for (const a of itf.ipv4) rates.set(a.ip, mbps * BYTES_PER_MBIT);
  }
  return rates;
}

/** The table and its refresh; `rateOf` is what the HTTP engine calls. */
export class LinkRates {
  #rates = new Map<number, number>();
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly pacing: Pacing, signal: AbortSignal) {
    if (pacing === "off") return;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), REFRESH_MS);
    signal.addEventListener("abort", () => clearInterval(this.#timer), { once: true });
  }

  readonly rateOf = (localIp: number): number => this.#rates.get(localIp) ?? 0;

  async refresh(): Promise<void> {
    try {
      this.#rates = linkRates(this.pacing, await listInterfaces());
    } catch (e) {
      log.warn("link rates unknown: downloads not paced", { error: String(e) });
    }
  }
}
