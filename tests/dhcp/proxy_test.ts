/**
 * proxyDHCP beside a real DHCP server: dnsmasq hands out the addresses on the
 * switch, mesh's proxy service (startProxyService in the "srv" namespace)
 * adds the boot information. Judged by busybox udhcpc and by what is seen on
 * the wire in the client's namespace (a raw socket capture).
 *
 * udhcpc is no PXE client: it takes the first OFFER whatever its yiaddr
 * (a PXE ROM takes the address from the addressed OFFER and the boot file
 * from ours). So while udhcpc gets its lease the proxy is held (SIGSTOP);
 * once resumed it answers the DISCOVER its raw socket queued, and the
 * capture sees that OFFER. The plain client runs with the proxy live.
 */
import assert from "node:assert/strict";
import { DEFAULT_BOOT_FILES } from "../../src/boot/mod.ts";
import {
  decodePacket,
  type DhcpPacket,
  encodePacket,
  getBootfileName,
  getMessageType,
  getPxeVendorOptions,
  getServerId,
  getVendorClass,
  MessageType,
  Opt,
  toHex,
} from "../../src/dhcp/mod.ts";
import { startBootServer } from "../../src/dhcp/boot_server.ts";
import { proxyResponder } from "../../src/dhcp/proxy.ts";
import type { ProxyDecisionEvent } from "../../src/dhcp/proxy_service.ts";
import { DgramSocket } from "../../src/net/mod.ts";
import { makeRequest } from "../../src/testing/dhcp_factories.ts";
import { parseCidr, parseIpv4 } from "../../src/wire/mod.ts";
import { TextLineStream } from "../lib/lines.ts";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";

const skip = labSkipReason(["dnsmasq", "udhcpc"]);
const FIXTURE = new URL("./_proxy_fixture.ts", import.meta.url).pathname;
const US = "10.83.0.1";
const GUID = "00" + "a1b2c3d4e5f60718293a4b5c6d7e8f90";
/** The existing DHCP server's range (no PXE settings, no ping before offering). */
const RANGE = "10.83.0.100,10.83.0.150,255.255.255.0,1h";
/** A udhcpc hook: configures the address (4011 is asked from it) and prints its environment. */
const HOOK = `#!/bin/sh
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface" ;;
  deconfig) ip addr flush dev "$interface" ;;
esac
echo "EVENT $1"
env | sort | sed 's/^/ENV /'
`;
const fixture = (...args: string[]) => [Deno.execPath(), "run", "-A", FIXTURE, ...args];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Follows a fixture's JSON lines; resolves `ready` on its "ready" line. */
function follow(child: Deno.ChildProcess) {
  const lines: unknown[] = [];
  let ready: () => void = () => {};
  const readyP = new Promise<void>((r) => ready = r);
  const ended = (async () => {
    const stream = child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream());
    for await (const line of stream) {
      if (line === "ready") ready();
      else lines.push(JSON.parse(line));
    }
    ready();
  })();
  const waitReady = () =>
    Promise.race([
      readyP,
      new Promise<never>((_, no) => setTimeout(() => no(new Error("fixture not ready")), 20_000)),
    ]);
  return { lines, waitReady, ended };
}

interface Frame {
  srcMac: string;
  dstIp: string;
  hex: string;
}

/**
 * Starts capturing frames to port 68 in `host`, until `count` came from
 * `mac` or `ms` passed; resolves once the socket is open, with the frames to come.
 */
async function capture(
  lab: Lab,
  host: string,
  mac: string,
  count: number,
  ms: number,
): Promise<{ frames: Promise<Frame[]> }> {
  const args = ["capture", "eth0", String(ms), mac, String(count)];
  const f = follow(lab.spawn(host, fixture(...args), { stdout: "piped", stderr: "inherit" }));
  await f.waitReady();
  return { frames: f.ended.then(() => f.lines as Frame[]) };
}

function decode(hex: string): DhcpPacket {
  return decodePacket(Uint8Array.from(hex.match(/../g)!, (h) => parseInt(h, 16)));
}

/** busybox udhcpc for one lease; returns the environment of its "bound" event. */
async function udhcpc(lab: Lab, script: string, extra: string[]): Promise<Record<string, string>> {
  const r = await lab.exec("cli", [
    "udhcpc",
    "-i",
    "eth0",
    "-f",
    "-q",
    "-n",
    "-t",
    "10",
    "-T",
    "1",
    "-s",
    script,
    ...extra,
  ], { timeoutMs: 30_000 });
  const at = r.stdout.indexOf("EVENT bound");
  assert.ok(at >= 0, `no lease: ${r.stdout}\n${r.stderr}`);
  const env: Record<string, string> = {};
  for (const line of r.stdout.slice(at).split("\n").slice(1)) {
    if (line.startsWith("EVENT")) break;
    const m = /^ENV ([^=]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/** dnsmasq's leases: 10.83.0.100-150, with its server id 10.83.0.2. */
function assertDnsmasqLease(env: Record<string, string>): void {
  const last = Number(env.ip?.split(".")[3]);
  assert.ok(env.ip?.startsWith("10.83.0.") && last >= 100 && last <= 150, JSON.stringify(env));
  assert.equal(env.serverid, "10.83.0.2");
}

Deno.test({
  name: "proxyDHCP beside dnsmasq: PXE clients get boot files from us, addresses from dnsmasq",
  ignore: skip !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "mesh-proxy-" });
    try {
      await using lab = await createLab("pxy", [
        { name: "dhcp", address: "10.83.0.2/24" },
        { name: "srv", address: `${US}/24` },
        { name: "cli" },
      ]);
      const script = `${dir}/udhcpc.sh`;
      await Deno.writeTextFile(script, HOOK);
      await Deno.chmod(script, 0o755);
      await startDnsmasq(lab, "dhcp", { dir: lab.dir, ranges: [RANGE] });
      // dnsmasq listens once 0.0.0.0:67 (hex 0043) is in its namespace's UDP table.
      for (let i = 0; i < 100; i++) {
        if ((await lab.exec("dhcp", ["cat", "/proc/net/udp"])).stdout.includes(":0043 ")) break;
        await sleep(100);
      }
      const macOf = async (h: string) =>
        (await lab.exec(h, ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
      const [srvMac, cliMac, dhcpMac] = await Promise.all(["srv", "cli", "dhcp"].map(macOf)) as [
        string,
        string,
        string,
      ];
      const config = JSON.stringify({ interfaces: [{ name: "eth0", serverIp: US }] });
      const server = lab.spawn("srv", fixture("serve", config), {
        stdout: "piped",
        stderr: "inherit",
      });
      const proxy = follow(server);
      await proxy.waitReady();
      /** Runs udhcpc with a proxy stopped, then lets it answer what it queued. */
      const held = async (extra: string[], which = server) => {
        which.kill("SIGSTOP");
        try {
          return await udhcpc(lab, script, extra);
        } finally {
          which.kill("SIGCONT");
        }
      };
      const decisions = (): ProxyDecisionEvent[] =>
        (proxy.lines as { decision?: ProxyDecisionEvent }[])
          .flatMap((l) => l.decision?.mac === cliMac ? [l.decision] : []);
      /** Waits (at most 5 s) until the proxy reported a decision that satisfies `pred`. */
      const decided = async (pred: (d: ProxyDecisionEvent) => boolean) => {
        for (let i = 0; i < 50 && !decisions().some(pred); i++) await sleep(100);
        return decisions().some(pred);
      };

      await t.step("BIOS (option43): dnsmasq's lease, our OFFER with the file", async () => {
        const { frames } = await capture(lab, "cli", srvMac, 1, 10_000);
        const bios = ["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"];
        const env = await held([...bios, "-x", `0x61:${GUID}`]);
        assertDnsmasqLease(env);
        const ours = (await frames).filter((f) => f.srcMac === srvMac);
        assert.equal(ours.length, 1, "our OFFER reached the client");
        assert.equal(ours[0]!.dstIp, "255.255.255.255");
        const offer = decode(ours[0]!.hex);
        assert.equal(getMessageType(offer.options), MessageType.Offer);
        assert.equal(offer.yiaddr, 0);
        assert.equal(offer.siaddr, parseIpv4(US));
        assert.equal(getServerId(offer.options), parseIpv4(US));
        assert.equal(getVendorClass(offer.options), "PXEClient");
        assert.equal(offer.file, "undionly.kpxe");
        assert.equal(getBootfileName(offer.options), "undionly.kpxe");
        assert.deepEqual(getPxeVendorOptions(offer.options), { discoveryControl: 8 });
        assert.equal(toHex(offer.options.get(Opt.ClientMachineIdentifier)!), GUID);
        // udhcpc's REQUEST named dnsmasq: we saw it and left it alone.
        const leftAlone = await decided((d) => d.reason.startsWith("other-server"));
        assert.ok(leftAlone, JSON.stringify(decisions()));
      });

      await t.step(
        "UEFI arch 7 (port4011): no file in the OFFER, the ACK on 4011 has it",
        async () => {
          const { frames } = await capture(lab, "cli", srvMac, 1, 10_000);
          const env = await held(["-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007"]);
          assertDnsmasqLease(env);
          const ours = (await frames).filter((f) => f.srcMac === srvMac);
          assert.equal(ours.length, 1, "our OFFER reached the client");
          const offer = decode(ours[0]!.hex);
          assert.equal(offer.yiaddr, 0);
          assert.equal(getVendorClass(offer.options), "PXEClient");
          assert.equal(offer.file, "");
          assert.equal(getBootfileName(offer.options), undefined);
          assert.equal(offer.options.has(Opt.VendorSpecific), false);

          // What the firmware does next: a REQUEST from its new address to us on 4011.
          const asked = { server: US, mac: cliMac, ciaddr: env.ip, arch: 7, machineIdHex: GUID };
          const ask = await lab.exec("cli", fixture("ask4011", JSON.stringify(asked)), {
            timeoutMs: 30_000,
          });
          const answer = JSON.parse(ask.stdout.trim().split("\n").at(-1) ?? "{}");
          assert.ok(answer.reply, `no ACK on 4011: ${ask.stdout}${ask.stderr}`);
          assert.deepEqual([answer.fromIp, answer.fromPort], [US, 4011]);
          const ack = decode(answer.reply);
          assert.equal(getMessageType(ack.options), MessageType.Ack);
          assert.equal(ack.yiaddr, 0);
          assert.equal(ack.ciaddr, parseIpv4(env.ip!));
          assert.equal(ack.siaddr, parseIpv4(US));
          assert.equal(getServerId(ack.options), parseIpv4(US));
          assert.equal(getVendorClass(ack.options), "PXEClient");
          assert.equal(getBootfileName(ack.options), "ipxe.efi");
          assert.equal(toHex(ack.options.get(Opt.ClientMachineIdentifier)!), GUID);
        },
      );

      await t.step("plain udhcpc: dnsmasq's lease and not one frame from us", async () => {
        const before = decisions().length;
        const { frames } = await capture(lab, "cli", srvMac, 1, 3_000);
        assertDnsmasqLease(await udhcpc(lab, script, []));
        const seen = await frames;
        assert.ok(seen.some((f) => f.srcMac === dhcpMac), "the capture saw dnsmasq's replies");
        assert.deepEqual(seen.filter((f) => f.srcMac === srvMac), []);
        // It was heard, and deliberately not answered.
        assert.ok(await decided((d) => d.reason === "not-netboot"), JSON.stringify(decisions()));
        const now = decisions().slice(before);
        assert.ok(now.every((d) => d.kind === "ignore" && !d.sent), JSON.stringify(now));
      });

      // dnsmasq --bind-interfaces sets SO_REUSEADDR, as mesh's port 67 sockets do. (A wildcard
      // dnsmasq without it holds *:67 alone, and then the proxy cannot start: EADDRINUSE.)
      await t.step("on dnsmasq's own host: both serve, nothing holds port 67 alone", async () => {
        server.kill("SIGTERM");
        await server.status;
        const config = JSON.stringify({ interfaces: [{ name: "eth0", serverIp: "10.83.0.2" }] });
        const beside = lab.spawn("dhcp", fixture("serve", config), {
          stdout: "piped",
          stderr: "inherit",
        });
        await follow(beside).waitReady();
        // dnsmasq's OFFER and ACK, then our OFFER, all from the one MAC.
        const { frames } = await capture(lab, "cli", dhcpMac, 3, 10_000);
        const bios = ["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"];
        assertDnsmasqLease(await held(bios, beside));
        const offers = (await frames).filter((f) => f.srcMac === dhcpMac).map((f) => decode(f.hex))
          .filter((p) => p.yiaddr === 0);
        assert.equal(offers.length, 1, "our OFFER from dnsmasq's host");
        assert.equal(offers[0]!.file, "undionly.kpxe");
        assert.equal(getServerId(offers[0]!.options), parseIpv4("10.83.0.2"));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "boot server on loopback: garbage is counted, a PXE REQUEST gets its ACK, close ends it",
  ignore: Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const lo = parseIpv4("127.0.0.1");
    const responder = proxyResponder({
      boot: (_s, ip) => ({
        ...DEFAULT_BOOT_FILES,
        tftpServer: ip,
        httpBase: "http://127.0.0.1:8080",
      }),
    });
    const srv = startBootServer({
      interfaces: [{ name: "lo", serverIp: lo, subnet: parseCidr("127.0.0.0/8") }],
      responder,
      port: 0, // an ephemeral port: no root, no clash with a real 4011
    });
    const cli = DgramSocket.open({ address: lo });
    try {
      const send = (b: Uint8Array) => cli.sendTo(b as Uint8Array<ArrayBuffer>, lo, srv.port);
      send(new TextEncoder().encode("not DHCP at all"));
      send(encodePacket(makeRequest({ ciaddr: "127.0.0.1" }))); // a plain client: ignored
      send(encodePacket(makeRequest({
        ciaddr: "127.0.0.1",
        arch: 7,
        vendorClass: "PXEClient:Arch:00007:UNDI:003016",
      })));
      const buf = new Uint8Array(1500);
      let n = -1;
      for (let i = 0; i < 200 && n < 0; i++) {
        await sleep(10);
        n = cli.recvInto(buf);
      }
      assert.ok(n > 0, "an ACK came back");
      assert.equal(cli.fromPort, srv.port);
      const ack = decodePacket(buf.subarray(0, n));
      assert.equal(getMessageType(ack.options), MessageType.Ack);
      assert.equal(getBootfileName(ack.options), "ipxe.efi");
      assert.equal(ack.yiaddr, 0);
      const st = srv.stats();
      assert.deepEqual(
        [st.received, st.malformed, st.ignored, st.replied, st.errors],
        [3, 1, 1, 1, 0],
      );
      assert.deepEqual(st.ignoreReasons, { "not-netboot": 1 });
    } finally {
      cli.close();
      await srv.close();
    }
    await srv.done;
  },
});
