/** Test helper: probes each IP given on argv from eth0 and prints one JSON line per result. */
import { ConflictProbe } from "../../src/dhcp/conflict_probe.ts";
import { formatIpv4, parseIpv4 } from "../../src/wire/mod.ts";

using probe = new ConflictProbe({ ifname: "eth0", timeoutMs: 3000 });
for (const ip of Deno.args) {
  const inUse = await probe.inUse(parseIpv4(ip));
  console.log(JSON.stringify({ ip: formatIpv4(parseIpv4(ip)), inUse }));
}
// A second ask is answered from the cache without another probe.
await probe.inUse(parseIpv4(Deno.args[0]!));
console.log(JSON.stringify({ probes: probe.probes, conflicts: probe.conflicts }));
