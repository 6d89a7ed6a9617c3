/**
 * The DHCP latency probe of bench/storm.ts, run with `ip netns exec` in its
 * own namespace on the storm's bridge: every `intervalMs` it sends one
 * DISCOVER (a plain client, cycling through a few MACs of its own) and
 * records how long the OFFER took. It never sends a REQUEST, so it takes no
 * lease; a server holds at most one offer per probe MAC.
 *
 *   deno run -A bench/_storm_probe.ts <config.json>     (see ProbeConfig)
 */
import { buildRequest, DhcpMux } from "./_storm_dhcp.ts";
import { MessageType } from "../src/dhcp/mod.ts";
import { epochMs, type ProbeConfig, type ProbeSample } from "./_storm_types.ts";

const cfg = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as ProbeConfig;
const mux = new DhcpMux(cfg.iface);
const samples: ProbeSample[] = [];
const pending: Promise<void>[] = [];
const started = performance.now();
const stopped = () =>
  performance.now() - started > cfg.maxMs ||
  (() => {
    try {
      Deno.statSync(cfg.stopFile);
      return true;
    } catch {
      return false;
    }
  })();

async function one(i: number): Promise<void> {
  const mac = cfg.macs[i % cfg.macs.length]!;
  const xid = (Math.random() * 0x100000000) >>> 0;
  const at = epochMs();
  const sent = performance.now();
  const pkt = buildRequest({ mac, uuid: "", arch: 0 }, "linux", xid, 0);
  const offer = await mux.exchange(mac, xid, pkt, [MessageType.Offer], cfg.timeoutMs);
  samples.push({ at, ms: offer ? offer.at - sent : null });
}

const maxTicks = Math.ceil(cfg.maxMs / cfg.intervalMs);
for (let i = 0; i < maxTicks && !stopped(); i++) {
  const tick = started + i * cfg.intervalMs;
  pending.push(one(i));
  // Keep to the schedule: a slow tick does not delay the next DISCOVER.
  const wait = tick + cfg.intervalMs - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
await Promise.all(pending);
await mux.close();
await Deno.writeTextFile(cfg.out, JSON.stringify({ samples }));
