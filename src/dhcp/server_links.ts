/**
 * @module
 * Link setup of the DHCP server: per interface, its transport (raw socket
 * and device-bound UDP socket), its optional ARP conflict probe and the facts
 * the loop builds request contexts from. Opening is all or nothing: when one
 * interface fails, whatever was opened is closed and the error names it.
 */
import { getLogger } from "@logtape/logtape";
import { DhcpTransport } from "../net/mod.ts";
import { type Cidr, cidrBroadcast } from "../wire/mod.ts";
import { ConflictProbe } from "./conflict_probe.ts";

const log = getLogger(["mesh", "dhcp"]);

export interface ServerInterface {
  readonly name: string;
  /** Our address on it (u32). */
  readonly serverIp: number;
  readonly subnet: Cidr;
  /** Segment name stored with leases; the interface name by default. */
  readonly segment?: string;
}

/** A reply's encoding buffer: bigger than any reply we build (a larger one gets its own). */
const SCRATCH_BYTES = 1500;

/** Per-interface facts the loop builds request contexts from. */
export interface Link {
  readonly itf: ServerInterface;
  readonly segment: string;
  readonly broadcastIp: number;
  readonly transport: DhcpTransport;
  readonly probe: ConflictProbe | undefined;
  /** Where replies are encoded, one at a time. */
  readonly scratch: Uint8Array;
}

export interface LinkOptions {
  /** ARP-probe fresh addresses before offering them. */
  readonly probe?: boolean;
  readonly probeTimeoutMs?: number;
}

/** Opens every interface's sockets; throws an Error naming the interface that failed. */
export function openLinks(interfaces: readonly ServerInterface[], opts: LinkOptions): Link[] {
  const links: Link[] = [];
  try {
    for (const itf of interfaces) links.push(openLink(itf, opts));
  } catch (e) {
    for (const l of links) closeLink(l);
    throw e;
  }
  return links;
}

function openLink(itf: ServerInterface, opts: LinkOptions): Link {
  let transport: DhcpTransport;
  try {
    transport = DhcpTransport.open({ ifname: itf.name, serverIp: itf.serverIp });
  } catch (e) {
    throw new Error(`dhcp: cannot open sockets on interface ${itf.name}: ${errText(e)}`, {
      cause: e,
    });
  }
  if (!transport.ownsPort) {
    log.warn("another DHCP server on this host holds port 67; replies go out as frames only", {
      if: itf.name,
    });
  }
  let probe: ConflictProbe | undefined;
  try {
    if (opts.probe) {
      probe = new ConflictProbe({ ifname: itf.name, timeoutMs: opts.probeTimeoutMs ?? 300 });
    }
  } catch (e) {
    transport.close();
    throw new Error(`dhcp: cannot open the ARP probe on interface ${itf.name}: ${errText(e)}`, {
      cause: e,
    });
  }
  return {
    itf,
    segment: itf.segment ?? itf.name,
    broadcastIp: cidrBroadcast(itf.subnet),
    transport,
    probe,
    scratch: new Uint8Array(SCRATCH_BYTES),
  };
}

export function closeLink(l: Link): void {
  l.transport.close();
  l.probe?.close();
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
