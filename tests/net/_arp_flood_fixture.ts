/**
 * Test fixture run inside a lab namespace: floods a switch with hostile ARP
 * while a scan runs elsewhere on it.
 *
 *   _arp_flood_fixture.ts <ifname> <victim-mac,...> [--max-frames N] [--max-ms M] [--seed S]
 *                         [--exact-forgery]
 *
 * The victim MACs are the scanning host's ports, in scan order (the i-th owns
 * marker 203.0.113.(i+1)). Frames go out as fast as a pace of
 * max-frames / max-ms allows (200,000 in 6 s by default), in a fixed mix:
 *
 *   truncated   ARP ethertype, 14-41 bytes                      → malformed
 *   bad-header  42 bytes, htype 6, ptype 0x86dd or hlen 8       → malformed
 *   own-mac     a request whose sender is a victim MAC          → own-mac
 *   forged      a victim's marker (sender IP 0) from our MAC, from the
 *               MAC of another victim port, or with the owner's MAC as
 *               ARP sender but ours on the Ethernet header      → forged-marker
 *   reply       an ARP reply to a victim MAC (Ethernet or tha)  → unsolicited-reply
 *   probe       our own probe for a 10.x address (sender IP 0)  → foreign-probe
 *   group       sender MAC broadcast, multicast or zero         → bad-sender
 *   made-up     a request from a random locally administered MAC with an
 *               address in 198.18.0.0/15, distinct each time    → neighbours, then neighbour-limit
 *
 * `--exact-forgery` adds copies of the victims' probes as exact as an attacker
 * can make them (owner MAC as ARP and Ethernet sender, the marker): all it
 * cannot know is the per-scan nonce a port on another switch sends, so the
 * scan must still keep the switches apart.
 *
 * Prints "flooding" once the first burst is out, and on exit (limits reached
 * or SIGTERM) one JSON line: {"sent", "refused", "ms", "kinds"}.
 */
import { ArpOp, type ArpPacket, arpProbe, encodeArpFrame } from "../../src/arp/mod.ts";
import { bpfDropAll, BROADCAST_MAC, interfaceMac, RawSocket } from "../../src/net/mod.ts";
import { macToBytes, parseIpv4 } from "../../src/wire/mod.ts";

const USAGE = "usage: _arp_flood_fixture.ts <ifname> <victim-mac,...> [--max-frames N] " +
  "[--max-ms M] [--seed S] [--exact-forgery]";
const [ifname, victimList] = Deno.args;
if (ifname === undefined || victimList === undefined) {
  console.error(USAGE);
  Deno.exit(2);
}
function intFlag(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(Deno.args[i + 1]);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`--${name} wants a positive integer\n${USAGE}`);
    Deno.exit(2);
  }
  return v;
}
const MAX_FRAMES = Math.min(intFlag("max-frames", 200_000), 1_000_000);
const MAX_MS = Math.min(intFlag("max-ms", 6_000), 60_000);
const EXACT = Deno.args.includes("--exact-forgery");
let seed = intFlag("seed", 0x5eed) >>> 0;

/** xorshift32: reproducible for one seed. */
function rand(): number {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>>= 0);
}
const pick = <T>(xs: readonly T[]): T => xs[rand() % xs.length]!;

const victims = victimList.split(",").map((m) => macToBytes(m));
const ours = macToBytes(interfaceMac(ifname));
const ZERO = new Uint8Array(6);
const MARKER_BASE = parseIpv4("203.0.113.0");
const marker = (i: number) => MARKER_BASE + i + 1;
const MADE_UP_BASE = parseIpv4("198.18.0.0");

function request(sha: Uint8Array, spa: number, tpa: number, ethSrc = ours): ArpPacket {
  return { op: ArpOp.request, sha, spa, tha: ZERO, tpa, ethSrc, ethDst: BROADCAST_MAC };
}

/** A locally administered unicast MAC, distinct from the previous ones (a counter in it). */
let madeUp = 0;
function madeUpMac(): Uint8Array {
  const n = madeUp++;
  return new Uint8Array([
    (rand() & 0xfc) | 0x02,
    rand() & 0xff,
    (n >>> 24) & 0xff,
    (n >>> 16) & 0xff,
    (n >>> 8) & 0xff,
    n & 0xff,
  ]);
}

type Kind =
  | "truncated"
  | "bad-header"
  | "own-mac"
  | "forged"
  | "reply"
  | "probe"
  | "group"
  | "made-up"
  | "exact";

const build: Record<Kind, () => Uint8Array> = {
  truncated() {
    const full = encodeArpFrame(request(ours, rand(), rand()));
    return full.slice(0, 14 + (rand() % 28)); // 14..41 bytes, ethertype 0x0806 intact
  },
  "bad-header"() {
    const f = encodeArpFrame(request(madeUpMac(), MADE_UP_BASE + (rand() & 0x1ffff), rand()));
    const which = rand() % 3;
    if (which === 0) f[15] = 6; // htype IEEE 802
    else if (which === 1) [f[16], f[17]] = [0x86, 0xdd]; // ptype IPv6
    else f[18] = 8; // hlen 8
    return f;
  },
  "own-mac"() {
    // Our Ethernet source (spoofing theirs would also re-point the switch at us).
    return encodeArpFrame(
      request(pick(victims), parseIpv4("10.0.0.0") + (rand() & 0xffff), rand()),
    );
  },
  forged() {
    const i = rand() % victims.length;
    const owner = victims[i]!;
    const others = victims.filter((_, j) => j !== i);
    const way = rand() % 3;
    if (way === 0 || others.length === 0) return encodeArpFrame(arpProbe(ours, marker(i)));
    if (way === 1) {
      const other = pick(others);
      return encodeArpFrame({ ...arpProbe(other, marker(i)), ethSrc: rand() & 1 ? other : ours });
    }
    return encodeArpFrame({ ...arpProbe(owner, marker(i)), ethSrc: ours });
  },
  reply() {
    const v = pick(victims);
    const toEth = rand() & 1;
    return encodeArpFrame({
      op: ArpOp.reply,
      sha: ours,
      spa: parseIpv4("10.1.0.0") + (rand() & 0xffff),
      tha: v,
      tpa: parseIpv4("10.2.0.0") + (rand() & 0xffff),
      ethSrc: ours,
      ethDst: toEth ? v : BROADCAST_MAC,
    });
  },
  probe() {
    return encodeArpFrame(arpProbe(ours, parseIpv4("10.3.0.0") + (rand() & 0xffff)));
  },
  group() {
    const sha = pick([
      BROADCAST_MAC,
      new Uint8Array([0x01, 0x00, 0x5e, 0, 0, rand() & 0x7f]),
      ZERO,
    ]);
    return encodeArpFrame(request(sha, parseIpv4("10.4.0.0") + (rand() & 0xffff), rand()));
  },
  "made-up"() {
    return encodeArpFrame(
      request(madeUpMac(), MADE_UP_BASE + (rand() & 0x1ffff), parseIpv4("198.18.255.254")),
    );
  },
  exact() {
    const i = rand() % victims.length;
    return encodeArpFrame(arpProbe(victims[i]!, marker(i)));
  },
};

/** The mix, by weight: made-up senders dominate so the neighbour limit is reached within a scan. */
const MIX: readonly Kind[] = [
  "truncated",
  "bad-header",
  "own-mac",
  "forged",
  "forged",
  "reply",
  "probe",
  "group",
  "made-up",
  "made-up",
  "made-up",
  "made-up",
  ...(EXACT ? ["exact" as const] : []),
];

const kinds: Partial<Record<Kind, number>> = {};
let sent = 0;
let refused = 0;
const started = performance.now();
const elapsed = () => performance.now() - started;
let finished = false;
const sock = RawSocket.open(ifname, bpfDropAll());

function finish(): never {
  if (!finished) {
    finished = true;
    console.log(JSON.stringify({ sent, refused, ms: Math.round(elapsed()), kinds }));
  }
  sock.close();
  Deno.exit(0);
}
Deno.addSignalListener("SIGTERM", finish);

/** Frames per millisecond that spread MAX_FRAMES over MAX_MS. */
const PACE = MAX_FRAMES / MAX_MS;
let announced = false;
let k = 0;
while (sent + refused < MAX_FRAMES && elapsed() < MAX_MS) {
  const due = Math.min(MAX_FRAMES, Math.ceil((elapsed() + 1) * PACE));
  while (sent + refused < due) {
    const kind = MIX[k++ % MIX.length]!;
    let ok = false;
    try {
      ok = sock.send(build[kind]() as Uint8Array<ArrayBuffer>);
    } catch { /* a refused frame is counted, never fatal */ }
    if (ok) {
      sent++;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    } else refused++;
  }
  if (!announced) {
    announced = true;
    console.log("flooding");
  }
  await new Promise((r) => setTimeout(r, 1));
}
finish();
