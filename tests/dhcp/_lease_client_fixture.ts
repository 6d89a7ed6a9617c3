/**
 * Lab fixture run in a client namespace: the lease client on one interface,
 * doing what the daemon will do with its leases (the address goes on the
 * interface when bound and comes off when unbound), one JSON line per event:
 *   {"event":"started","mac":...}
 *   {"event":"bound","ip":...,"prefix":24,"server":...,"via":"REQUESTING","seconds":120,"added":"added"}
 *   {"event":"unbound","ip":...,"why":"released","deleted":"deleted"}
 *   {"event":"stopped","stats":{...}}
 * SIGTERM stops it (DHCPRELEASE, then unbound, then stopped, exit 0).
 *
 *   deno run -A tests/dhcp/_lease_client_fixture.ts '{"ifname":"eth0","previous":"10.50.0.123"}'
 */
import { startLeaseClient } from "../../src/dhcp/lease_client_shell.ts";
import { addAddress, deleteAddress, getInterface, interfaceMac } from "../../src/net/mod.ts";
import { formatIpv4, parseIpv4 } from "../../src/wire/mod.ts";

interface Args {
  readonly ifname?: string;
  readonly previous?: string;
  readonly hostname?: string;
}
const args = JSON.parse(Deno.args[0] ?? "{}") as Args;
const ifname = args.ifname ?? "eth0";
const mac = interfaceMac(ifname);
const { ifindex } = await getInterface(ifname);
const print = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

const stop = new AbortController();
Deno.addSignalListener("SIGTERM", () => stop.abort());
const client = startLeaseClient({
  ifname,
  mac,
  ...(args.previous ? { previous: parseIpv4(args.previous) } : {}),
  ...(args.hostname ? { hostname: args.hostname } : {}),
  signal: stop.signal,
  async onBound(l) {
    const added = await addAddress(ifindex, l.ip, l.prefix);
    print({
      event: "bound",
      ip: formatIpv4(l.ip),
      prefix: l.prefix,
      server: formatIpv4(l.serverId),
      via: l.via,
      seconds: l.leaseSeconds,
      added,
    });
  },
  async onUnbound(l, why) {
    const deleted = await deleteAddress(ifindex, l.ip, l.prefix);
    print({ event: "unbound", ip: formatIpv4(l.ip), why, deleted });
  },
});
print({ event: "started", mac });
await client.done;
print({ event: "stopped", stats: client.stats });
Deno.exit(0);
