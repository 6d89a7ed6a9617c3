/**
 * Test helper run inside a lab namespace: exchanges UDP frames over a raw socket.
 *   raw_peer.ts recv <ifname> <port> <count>   prints "ready", then one JSON line per frame
 *   raw_peer.ts send <ifname> <port> <text>    broadcasts one frame with <text> as payload
 */
import {
  bpfUdpDstPort,
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  interfaceMac,
  RawSocket,
} from "../../src/net/mod.ts";
import { formatIpv4, formatMac, macToBytes } from "../../src/wire/mod.ts";

const [mode, ifname = "eth0", portText = "9999", arg = "1"] = Deno.args;
const port = Number(portText);
using sock = RawSocket.open(ifname, bpfUdpDstPort(port));
if (mode === "recv") {
  console.log("ready");
  let left = Number(arg);
  const deadline = Date.now() + 60_000;
  while (left > 0 && Date.now() < deadline) {
    const frame = sock.tryRecv();
    if (!frame) {
      await sock.wait(200);
      continue;
    }
    const udp = decodeUdpFrame(frame, true);
    if (!udp) continue;
    left--;
    console.log(JSON.stringify({
      srcMac: formatMac(udp.srcMac),
      srcIp: formatIpv4(udp.srcIp),
      dstPort: udp.dstPort,
      payload: new TextDecoder().decode(udp.payload),
    }));
  }
} else {
  const ok = sock.send(encodeUdpFrame({
    srcMac: macToBytes(interfaceMac(ifname)),
    dstMac: BROADCAST_MAC,
    srcIp: 0,
    dstIp: 0xffffffff,
    srcPort: 5555,
    dstPort: port,
    payload: new TextEncoder().encode(arg),
  }) as Uint8Array<ArrayBuffer>);
  console.log(ok ? "sent" : "refused");
}
