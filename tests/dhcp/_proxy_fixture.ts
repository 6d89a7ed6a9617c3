/**
 * Test helper for tests/dhcp/proxy_test.ts, run inside a lab namespace with
 * `ip netns exec`:
 *
 *   _proxy_fixture.ts serve '<json>'     startProxyService on the interfaces
 *       {interfaces: [{name, serverIp}], strategies?, httpPort?}; prints
 *       "ready", then one {"decision": ...} line per decision; exits on SIGTERM.
 *   _proxy_fixture.ts capture <ifname> <ms> <mac> <count>
 *       prints "ready", then one JSON line per UDP frame to port 68 until
 *       <count> frames from <mac> were seen or <ms> passed.
 *   _proxy_fixture.ts ask4011 '<json>'   sends one DHCPREQUEST to
 *       {server}:4011 as a PXE client {mac, ciaddr, arch, machineIdHex} and
 *       prints {"reply": hex, fromIp, fromPort} or {"timeout": true}.
 */
import { type BootFilesConfig, DEFAULT_BOOT_FILES } from "../../src/boot/mod.ts";
import { encodePacket, toHex } from "../../src/dhcp/mod.ts";
import { startProxyService } from "../../src/dhcp/proxy_service.ts";
import type { ProxyStrategies } from "../../src/dhcp/proxy.ts";
import { bpfUdpDstPort, decodeUdpFrame, DgramSocket, RawSocket } from "../../src/net/mod.ts";
import { makeRequest } from "../../src/testing/dhcp_factories.ts";
import { formatIpv4, formatMac, parseIpv4 } from "../../src/wire/mod.ts";

const print = (o: unknown) => console.log(typeof o === "string" ? o : JSON.stringify(o));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const [mode, ...args] = Deno.args;

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

async function serve(cfg: {
  interfaces: { name: string; serverIp: string }[];
  strategies?: Partial<ProxyStrategies>;
  httpPort?: number;
}): Promise<void> {
  const boot = (_segment: string, serverIp: number): BootFilesConfig => ({
    ...DEFAULT_BOOT_FILES,
    tftpServer: serverIp,
    httpBase: `http://${formatIpv4(serverIp)}:${cfg.httpPort ?? 8080}`,
  });
  const service = await startProxyService({
    interfaces: cfg.interfaces.map((i) => ({ name: i.name, serverIp: parseIpv4(i.serverIp) })),
    boot,
    ...(cfg.strategies ? { strategies: cfg.strategies } : {}),
    onDecision: (decision) => print({ decision }),
  });
  Deno.addSignalListener("SIGTERM", async () => {
    await service.close();
    print({ stats: service.stats() });
    Deno.exit(0);
  });
  print("ready");
  await service.done;
}

async function capture(ifname: string, ms: number, mac: string, count: number): Promise<void> {
  using sock = RawSocket.open(ifname, bpfUdpDstPort(68));
  print("ready");
  const deadline = Date.now() + ms;
  let seen = 0;
  while (seen < count && Date.now() < deadline) {
    const frame = sock.tryRecv();
    if (!frame) {
      await sock.wait(50);
      continue;
    }
    // No checksum check: frames from kernel sockets on a veth carry partial checksums.
    const udp = decodeUdpFrame(frame);
    if (!udp) continue;
    const srcMac = formatMac(udp.srcMac);
    if (srcMac === mac) seen++;
    print({
      srcMac,
      srcIp: formatIpv4(udp.srcIp),
      dstIp: formatIpv4(udp.dstIp),
      dstPort: udp.dstPort,
      hex: toHex(udp.payload),
    });
  }
}

async function ask4011(cfg: {
  server: string;
  mac: string;
  ciaddr: string;
  arch: number;
  machineIdHex?: string;
}): Promise<void> {
  const req = makeRequest({
    mac: cfg.mac,
    ciaddr: cfg.ciaddr,
    arch: cfg.arch,
    vendorClass: `PXEClient:Arch:${String(cfg.arch).padStart(5, "0")}:UNDI:003016`,
    ...(cfg.machineIdHex ? { machineId: hexBytes(cfg.machineIdHex) } : {}),
  });
  const sock = DgramSocket.open({ port: 0 });
  try {
    const bytes = encodePacket(req) as Uint8Array<ArrayBuffer>;
    const buf = new Uint8Array(1500);
    // Resent every second like firmware does, five times at most.
    for (let attempt = 0; attempt < 5; attempt++) {
      sock.sendTo(bytes, parseIpv4(cfg.server), 4011);
      for (let i = 0; i < 50; i++) {
        const n = sock.recvInto(buf);
        if (n >= 0) {
          const fromIp = formatIpv4(sock.fromIp);
          return print({ reply: toHex(buf.subarray(0, n)), fromIp, fromPort: sock.fromPort });
        }
        await sleep(20);
      }
    }
    print({ timeout: true });
  } finally {
    sock.close();
  }
}

if (mode === "serve") await serve(JSON.parse(args[0] ?? "{}"));
else if (mode === "capture") {
  await capture(args[0] ?? "eth0", Number(args[1] ?? 3000), args[2] ?? "", Number(args[3] ?? 1));
} else if (mode === "ask4011") await ask4011(JSON.parse(args[0] ?? "{}"));
else throw new Error(`unknown mode ${mode}`);
