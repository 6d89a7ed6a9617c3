/**
 * Sends `count` random and mutated DHCP requests as raw frames to port 67:
 * random bytes, truncation, bad cookie, bad option lengths, option 52
 * overload loops, huge option 55 (RFC 3396 split), bit flips, and some valid
 * DISCOVERs. Frames are mutated in a reused buffer (cheap), UDP checksum 0.
 * Paced at `rate` packets per second (so the flood lasts its time on any
 * machine instead of ending early on a fast one), until `count` are sent,
 * `maxSeconds` pass or SIGTERM arrives. Prints {"sent", "refused", "seconds"}.
 *
 *   deno run -A tests/dhcp/fuzz_blaster.ts '{"ifname":"eth0","count":1000000,"rate":40000}'
 */
import { bpfDropAll, encodeUdpFrame, ETH_HEADER, RawSocket } from "../../src/net/mod.ts";
import { internetChecksum } from "../../src/wire/mod.ts";
import { encodePacket, Opt } from "../../src/dhcp/mod.ts";
import { makeDiscover, makeRequest } from "../../src/testing/dhcp_factories.ts";

const args = JSON.parse(Deno.args[0] ?? "{}") as {
  ifname?: string;
  count: number;
  seed?: number;
  /** Packets per second at most (default 40,000). */
  rate?: number;
  maxSeconds?: number;
};
let stopped = false;
Deno.addSignalListener("SIGTERM", () => {
  stopped = true;
});
const sock = RawSocket.open(args.ifname ?? "eth0", bpfDropAll());
let rng = (args.seed ?? 1) >>> 0 || 1;
function rand(n: number): number {
  // xorshift32: cheap and reproducible from the seed.
  rng ^= rng << 13;
  rng >>>= 0;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  rng >>>= 0;
  return rng % n;
}

const prl = new Uint8Array(255).map((_, i) => i + 1);
const bases = [
  encodePacket(
    makeDiscover({ mac: "02:fe:00:00:00:01", prl: [1, 3, 6, 12, 15, 28, 43, 60, 66, 67] }),
  ),
  encodePacket(
    makeRequest({ mac: "02:fe:00:00:00:02", requestedIp: "10.87.0.150", serverId: "10.87.0.1" }),
  ),
  // Huge option 55: 3 x 255 bytes, split per RFC 3396.
  encodePacket(
    makeDiscover({
      mac: "02:fe:00:00:00:03",
      extra: [[Opt.ParameterRequestList, new Uint8Array([...prl, ...prl, ...prl])]],
    }),
  ),
];
// Overload loop: option 52 = 3, and file/sname themselves full of option 52.
const overload = encodePacket(
  makeDiscover({ mac: "02:fe:00:00:00:04", extra: [[Opt.OptionOverload, new Uint8Array([3])]] }),
);
for (let i = 44; i < 236; i += 3) overload.set([52, 1, 3], i);
bases.push(overload);

const MAX = 1200;
const frame = encodeUdpFrame({
  srcMac: new Uint8Array([2, 0xfe, 0, 0, 0, 9]),
  dstMac: new Uint8Array([255, 255, 255, 255, 255, 255]),
  srcIp: 0,
  dstIp: 0xffffffff,
  srcPort: 68,
  dstPort: 67,
  payload: new Uint8Array(MAX),
});
const IP = ETH_HEADER;
const PAY = ETH_HEADER + 28;

function finish(len: number): Uint8Array<ArrayBuffer> {
  const ipLen = 28 + len;
  frame[IP + 2] = ipLen >> 8;
  frame[IP + 3] = ipLen & 255;
  frame[IP + 10] = 0;
  frame[IP + 11] = 0;
  const sum = internetChecksum(frame, IP, IP + 20);
  frame[IP + 10] = sum >> 8;
  frame[IP + 11] = sum & 255;
  frame[IP + 24] = (8 + len) >> 8;
  frame[IP + 25] = (8 + len) & 255;
  frame[IP + 26] = 0; // UDP checksum 0: "none"
  frame[IP + 27] = 0;
  return frame.subarray(0, PAY + len) as Uint8Array<ArrayBuffer>;
}

let sent = 0;
let refused = 0;
const start = Date.now();
const until = start + (args.maxSeconds ?? 50) * 1000;
const perMs = (args.rate ?? 40_000) / 1000;
for (let i = 0; i < args.count && !stopped && Date.now() < until; i++) {
  // Ahead of the pace: wait for the clock (setTimeout also lets SIGTERM in).
  while (!stopped && i > (Date.now() - start) * perMs) {
    await new Promise((r) => setTimeout(r, 2));
  }
  const base = bases[rand(bases.length)]!;
  let len = base.length;
  frame.set(base, PAY);
  switch (rand(8)) {
    case 0: // random bytes
      len = rand(MAX);
      for (let j = 0; j < len; j += 4) {
        const r = rand(0xffffffff);
        frame[PAY + j] = r;
        frame[PAY + j + 1] = r >> 8;
        frame[PAY + j + 2] = r >> 16;
        frame[PAY + j + 3] = r >> 24;
      }
      break;
    case 1: // truncation
      len = rand(base.length);
      break;
    case 2: // bad cookie
      frame[PAY + 236 + rand(4)]! ^= 1 + rand(255);
      break;
    case 3: // bad option length somewhere in the options
      frame[PAY + 241 + rand(Math.max(1, len - 242))] = rand(256);
      break;
    case 4: // flips
      for (let k = 1 + rand(8); k > 0; k--) frame[PAY + rand(len)]! ^= 1 << rand(8);
      break;
    case 5: // valid message from one of 32 MACs: the responder itself is exercised
      // (few MACs, so the flood cannot simply exhaust the pool with offers)
      frame[PAY + 28 + 5] = rand(32);
      break;
    default: // the base as is (overload loop, huge option 55, plain request)
      break;
  }
  if (sock.send(finish(len))) sent++;
  else {
    refused++;
    await new Promise((r) => setTimeout(r, 1));
  }
  // Yield now and then so the kernel queue drains and the process stays responsive.
  if ((i & 4095) === 4095) await new Promise((r) => setTimeout(r, 0));
}
console.log(JSON.stringify({ sent, refused, seconds: (Date.now() - start) / 1000 }));
sock.close();
