/**
 * A DHCP load/verification client for tests: runs DORA for `count` distinct
 * MACs over a raw socket, `concurrency` at a time, retrying through server
 * outages, and prints every ACK it saw as a JSON line {"ack": {mac, ip}} the
 * moment it arrives (so a test can compare against the database even if this
 * process is killed). Ends with {"done": {acked, failed}}.
 *
 *   deno run -A tests/dhcp/dora_client.ts '{"ifname":"eth0","count":500,"seed":1,"concurrency":8}'
 */
import {
  bpfUdpDstPort,
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  RawSocket,
} from "../../src/net/mod.ts";
import { formatIpv4, macToBytes } from "../../src/wire/mod.ts";
import {
  decodePacket,
  type DhcpPacket,
  encodePacket,
  getMessageType,
  getServerId,
  MessageType,
} from "../../src/dhcp/mod.ts";
import { makeDiscover, makeRequest } from "../../src/testing/dhcp_factories.ts";

interface Args {
  ifname?: string;
  count: number;
  seed?: number;
  concurrency?: number;
  timeoutMs?: number;
  deadlineMs?: number;
}
const args = JSON.parse(Deno.args[0] ?? "{}") as Args;
const ifname = args.ifname ?? "eth0";
const seed = (args.seed ?? 1) & 255;
const sock = RawSocket.open(ifname, bpfUdpDstPort(68), { rcvbuf: 4 << 20 });
const waiters = new Map<number, (p: DhcpPacket) => void>();
const deadline = Date.now() + (args.deadlineMs ?? 60_000);
let running = true;

(async () => {
  while (running) {
    const f = sock.tryRecv();
    if (!f) {
      await sock.wait(50);
      continue;
    }
    try {
      const udp = decodeUdpFrame(f);
      if (!udp || udp.srcPort !== 67) continue;
      const p = decodePacket(udp.payload);
      waiters.get(p.xid)?.(p);
    } catch { /* not a reply we can read */ }
  }
})();

function exchange(
  req: DhcpPacket,
  mac: Uint8Array,
  want: number[],
  timeoutMs: number,
): Promise<DhcpPacket | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      waiters.delete(req.xid);
      resolve(null);
    }, timeoutMs);
    waiters.set(req.xid, (p) => {
      const type = getMessageType(p.options) ?? 0;
      if (!want.includes(type)) return;
      clearTimeout(t);
      waiters.delete(req.xid);
      resolve(p);
    });
    sock.send(encodeUdpFrame({
      srcMac: mac,
      dstMac: BROADCAST_MAC,
      srcIp: 0,
      dstIp: 0xffffffff,
      srcPort: 68,
      dstPort: 67,
      payload: encodePacket(req),
    }) as Uint8Array<ArrayBuffer>);
  });
}

let xidNext = (seed << 24) ^ 0x5a0000;
async function client(i: number): Promise<boolean> {
  const mac = `02:cd:${seed.toString(16).padStart(2, "0")}:${
    ((i >> 16) & 255).toString(16).padStart(2, "0")
  }:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
  const macBytes = macToBytes(mac);
  while (Date.now() < deadline) {
    const xid = (xidNext++) >>> 0;
    const offer = await exchange(
      makeDiscover({ mac, xid }),
      macBytes,
      [MessageType.Offer],
      args.timeoutMs ?? 400,
    );
    if (!offer) continue;
    const sid = getServerId(offer.options);
    const ack = await exchange(
      makeRequest({
        mac,
        xid,
        requestedIp: formatIpv4(offer.yiaddr),
        ...(sid ? { serverId: formatIpv4(sid) } : {}),
      }),
      macBytes,
      [MessageType.Ack, MessageType.Nak],
      args.timeoutMs ?? 400,
    );
    if (!ack || getMessageType(ack.options) !== MessageType.Ack) continue;
    console.log(JSON.stringify({ ack: { mac, ip: formatIpv4(ack.yiaddr) } }));
    return true;
  }
  return false;
}

let next = 0;
let acked = 0;
let failed = 0;
await Promise.all(Array.from({ length: args.concurrency ?? 8 }, async () => {
  while (next < args.count) {
    const i = next++;
    if (await client(i)) acked++;
    else failed++;
  }
}));
running = false;
console.log(JSON.stringify({ done: { acked, failed } }));
sock.close();
