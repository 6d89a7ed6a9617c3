/**
 * Test helper run inside a lab namespace: broadcasts `count` valid DHCPDISCOVERs
 * as raw frames, either all from one MAC (`mac`) or each from a fresh random
 * MAC (02:xx:..., seeded), paced at `rate` per second, until `count` are sent
 * or `maxSeconds` pass. Prints {"sent", "refused", "seconds"}. With `dstMac`
 * the frames go to that MAC only (still IP broadcast, as a client's are), so
 * the switch delivers them to the server and not to every host.
 *
 *   deno run -A tests/dhcp/discover_flood.ts '{"count":5000,"rate":5000,"seed":7}'
 *   deno run -A tests/dhcp/discover_flood.ts '{"count":3000,"mac":"02:aa:00:00:00:01"}'
 */
import { bpfDropAll, BROADCAST_MAC, encodeUdpFrame, RawSocket } from "../../src/net/mod.ts";
import { macToBytes } from "../../src/wire/mod.ts";
import { encodePacket } from "../../src/dhcp/mod.ts";
import { makeDiscover } from "../../src/testing/dhcp_factories.ts";

const args = JSON.parse(Deno.args[0] ?? "{}") as {
  ifname?: string;
  count: number;
  /** One MAC for every DISCOVER; random MACs when absent. */
  mac?: string;
  seed?: number;
  /** DISCOVERs per second at most (default 5,000). */
  rate?: number;
  maxSeconds?: number;
  /** Ethernet destination (default broadcast). */
  dstMac?: string;
};
const sock = RawSocket.open(args.ifname ?? "eth0", bpfDropAll());
let rng = (args.seed ?? 1) >>> 0 || 1;
function rand32(): number {
  // xorshift32: reproducible from the seed.
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return rng;
}

const mac = macToBytes(args.mac ?? "02:00:00:00:00:00");
const dstMac = args.dstMac === undefined ? BROADCAST_MAC : macToBytes(args.dstMac);
const payload = encodePacket(makeDiscover({ mac: args.mac ?? "02:00:00:00:00:00", xid: 1 }));
/** chaddr and xid offsets in the BOOTP header. */
const CHADDR = 28;
const XID = 4;

let sent = 0;
let refused = 0;
const start = Date.now();
const until = start + (args.maxSeconds ?? 30) * 1000;
const perMs = (args.rate ?? 5000) / 1000;
for (let i = 0; i < args.count && Date.now() < until; i++) {
  while (i > (Date.now() - start) * perMs) await new Promise((r) => setTimeout(r, 2));
  if (args.mac === undefined) {
    // A locally administered unicast MAC no one else uses.
    const r = rand32();
    mac.set([0x02, (r >>> 24) & 255, (r >>> 16) & 255, (r >>> 8) & 255, r & 255, i & 255]);
    payload.set(mac, CHADDR);
  }
  new DataView(payload.buffer, payload.byteOffset).setUint32(XID, rand32());
  const frame = encodeUdpFrame({
    srcMac: mac,
    dstMac,
    srcIp: 0,
    dstIp: 0xffffffff,
    srcPort: 68,
    dstPort: 67,
    payload,
  }) as Uint8Array<ArrayBuffer>;
  if (sock.send(frame)) sent++;
  else {
    refused++;
    await new Promise((r) => setTimeout(r, 1));
  }
}
console.log(JSON.stringify({ sent, refused, seconds: (Date.now() - start) / 1000 }));
sock.close();
