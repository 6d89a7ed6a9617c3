/**
 * @module
 * dnsmasq as the DHCP server a network already has (the one mesh must
 * detect, proxy beside and never fight), started in a lab host and awaited
 * until it serves: its log says so. Killed with the lab.
 */
import type { Lab } from "./netns.ts";

export interface DnsmasqOptions {
  /** A directory for its lease file and log (kept by the caller). */
  readonly dir: string;
  /** `--dhcp-range` values, e.g. "10.50.0.100,10.50.0.150,255.255.255.0,1h" or "10.50.0.0,proxy". */
  readonly ranges: readonly string[];
  readonly iface?: string;
  /** dnsmasq pings an address for 3 s before its first offer of it; off by default (quicker tests). */
  readonly ping?: boolean;
  /** More arguments (options, pxe-service, enable-ra, ...). */
  readonly extra?: readonly string[];
}

/** Where a started dnsmasq keeps its leases and log. */
export interface Dnsmasq {
  readonly leases: string;
  readonly log: string;
  readonly child: Deno.ChildProcess;
}

/** Starts dnsmasq (DHCP only: no DNS) on `host` and waits until it serves its ranges. */
export async function startDnsmasq(lab: Lab, host: string, o: DnsmasqOptions): Promise<Dnsmasq> {
  const iface = o.iface ?? "eth0";
  const leases = `${o.dir}/${host}-${iface}.leases`;
  const log = `${o.dir}/${host}-${iface}.log`;
  await Deno.writeTextFile(leases, "");
  const child = lab.spawn(host, [
    "dnsmasq",
    "--keep-in-foreground",
    "--no-daemon",
    "--port=0",
    `--interface=${iface}`,
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    "--pid-file=",
    "--user=root",
    `--dhcp-leasefile=${leases}`,
    `--log-facility=${log}`,
    "--log-dhcp",
    ...(o.ping ? [] : ["--no-ping"]),
    ...o.ranges.map((r) => `--dhcp-range=${r}`),
    ...(o.extra ?? []),
  ]);
  const until = Date.now() + 10_000;
  for (;;) {
    const text = await Deno.readTextFile(log).catch(() => "");
    if (/DHCP, (IP range|proxy on subnet)/.test(text)) return { leases, log, child };
    if (Date.now() > until) throw new Error(`dnsmasq on ${host} did not start: ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
