/**
 * Test fixture run inside a lab namespace: prints one JSON line per DHCP
 * reply heard on UDP port 68 of <ifname> (`{"srcMac","srcIp","type","yiaddr"}`),
 * "ready" first, for at most <ms> milliseconds.
 *   _dhcp_replies_fixture.ts <ifname> <ms>
 */
import { decodePacket, getMessageType } from "../../src/dhcp/mod.ts";
import { bpfUdpDstPort, decodeUdpFrame, RawSocket } from "../../src/net/mod.ts";
import { formatIpv4, formatMac } from "../../src/wire/mod.ts";

const [ifname = "eth0", msText = "10000"] = Deno.args;
using sock = RawSocket.open(ifname, bpfUdpDstPort(68));
console.log("ready");
const deadline = Date.now() + Number(msText);
while (Date.now() < deadline) {
  const frame = sock.tryRecv();
  if (!frame) {
    await sock.wait(100);
    continue;
  }
  try {
    const udp = decodeUdpFrame(frame, true);
    if (!udp) continue;
    const pkt = decodePacket(udp.payload);
    console.log(JSON.stringify({
      srcMac: formatMac(udp.srcMac),
      srcIp: formatIpv4(udp.srcIp),
      type: getMessageType(pkt.options) ?? 0,
      yiaddr: formatIpv4(pkt.yiaddr),
    }));
  } catch { /* not DHCP */ }
}
