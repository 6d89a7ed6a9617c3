/**
 * Test fixture for advertiser_test.ts and tests/ra/qemu_ra_test.ts, run
 * inside a lab namespace (`ip netns exec <ns> deno run -A
 * _advertiser_test_fixture.ts <mode> '<json>'`): raw sockets see the
 * namespace of the process that opens them. Prints JSON lines.
 *
 *   advertise '{"ifname", ...RouterAdvertiserOptions but mac}'
 *       starts a RouterAdvertiser on ifname (its own MAC), prints
 *       {"ready", "mac", "source"}; on SIGUSR1 prints {"stats"}; on SIGTERM
 *       closes it (the final RA) and prints {"stats", "closed": true}, exits.
 *   solicit '{"ifname", "from": "link-local" | "unspecified", "timeoutMs",
 *             "junk": bool, "again": bool}'
 *       listens for RAs, (with junk: first sends an RS with hop limit 64 and
 *       one with a bad checksum), sends one RS and prints the first RA heard
 *       after it: {"ms", "unicast", "src", "dst", "ethSrc", "ra"} or
 *       {"timeout": true}; with again, a second RS right after the answer,
 *       its answer as "second".
 */
import { interfaceMac, RawSocket } from "../net/mod.ts";
import { formatMac, macToBytes } from "../wire/mod.ts";
import {
  decodeRaFrame,
  encodeRsFrame,
  formatIpv6,
  linkLocalFromMac,
  RouterAdvertiser,
  type RouterAdvertiserOptions,
} from "./mod.ts";

const [mode, json] = Deno.args;
const args = JSON.parse(json ?? "{}") as Record<string, unknown>;
const ifname = String(args.ifname ?? "eth0");

/** IPv6, ICMPv6, type 134. */
const RA_FILTER = [
  { code: 0x28, jt: 0, jf: 0, k: 12 },
  { code: 0x15, jt: 0, jf: 5, k: 0x86dd },
  { code: 0x30, jt: 0, jf: 0, k: 20 },
  { code: 0x15, jt: 0, jf: 3, k: 58 },
  { code: 0x30, jt: 0, jf: 0, k: 54 },
  { code: 0x15, jt: 0, jf: 1, k: 134 },
  { code: 0x06, jt: 0, jf: 0, k: 0x40000 },
  { code: 0x06, jt: 0, jf: 0, k: 0 },
];

function statsOf(a: RouterAdvertiser) {
  return {
    sent: a.sent,
    solicited: a.solicited,
    solicitations: a.solicitations,
    deferred: a.deferred,
    ignored: a.ignored,
    ignoredBy: a.ignoredBy,
    sendFailures: a.sendFailures,
    lastDecodeError: a.lastDecodeError?.message,
  };
}

function advertise(): void {
  const mac = interfaceMac(ifname);
  const opts = { ...args, ifname, mac } as unknown as RouterAdvertiserOptions;
  const adv = RouterAdvertiser.start(opts);
  const source = opts.source ?? formatIpv6(linkLocalFromMac(macToBytes(mac)));
  console.log(JSON.stringify({ ready: true, mac, source, sent: adv.sent }));
  Deno.addSignalListener("SIGUSR1", () => console.log(JSON.stringify({ stats: statsOf(adv) })));
  Deno.addSignalListener("SIGTERM", () => {
    adv.close();
    console.log(JSON.stringify({ stats: statsOf(adv), closed: true }));
    Deno.exit(0);
  });
}

type Answer = Record<string, unknown>;

/** Sends `rs` and waits for the first RA after it. */
async function exchange(sock: RawSocket, rs: Uint8Array<ArrayBuffer>, timeoutMs: number) {
  while (sock.tryRecv()) { /* RAs from before our RS */ }
  const t0 = performance.now();
  sock.send(rs);
  const end = t0 + timeoutMs;
  for (;;) {
    for (let f = sock.tryRecv(); f; f = sock.tryRecv()) {
      const d = decodeRaFrame(f);
      if (!d) continue;
      const ra = d.ra;
      return {
        ms: Math.round((performance.now() - t0) * 10) / 10,
        unicast: (d.addresses.dst[0] ?? 0) !== 0xff,
        src: formatIpv6(d.addresses.src),
        dst: formatIpv6(d.addresses.dst),
        ethSrc: formatMac(d.addresses.ethSrc),
        ra: {
          curHopLimit: ra.curHopLimit,
          managed: ra.managed,
          other: ra.other,
          routerLifetimeS: ra.routerLifetimeS,
          reachableTimeMs: ra.reachableTimeMs,
          retransTimerMs: ra.retransTimerMs,
          mtu: ra.mtu,
          sourceLinkLayer: ra.sourceLinkLayer ? formatMac(ra.sourceLinkLayer) : undefined,
          prefixes: ra.prefixes.map((p) => ({ ...p, prefix: formatIpv6(p.prefix) })),
        },
      } as Answer;
    }
    const left = end - performance.now();
    if (left <= 0) return { timeout: true } as Answer;
    await sock.wait(Math.min(left, 100));
  }
}

async function solicit(): Promise<void> {
  const mac = macToBytes(interfaceMac(ifname));
  const src = args.from === "unspecified" ? new Uint8Array(16) : linkLocalFromMac(mac);
  const timeoutMs = Number(args.timeoutMs ?? 5000);
  using sock = RawSocket.open(ifname, RA_FILTER);
  const rs = encodeRsFrame(mac, src) as Uint8Array<ArrayBuffer>;
  if (args.junk === true) {
    const hop = rs.slice();
    hop[21] = 64; // not in the checksum: only the hop limit is wrong
    const sum = rs.slice();
    sum[57] = sum[57]! ^ 0xff;
    sock.send(hop);
    sock.send(sum);
  }
  const first = await exchange(sock, rs, timeoutMs);
  if (args.again === true) first.second = await exchange(sock, rs, timeoutMs);
  console.log(JSON.stringify(first));
}

if (mode === "advertise") advertise();
else if (mode === "solicit") await solicit();
else {
  console.error("usage: _advertiser_test_fixture.ts advertise|solicit '<json>'");
  Deno.exit(2);
}
