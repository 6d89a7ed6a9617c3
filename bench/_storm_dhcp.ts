/**
 * @module
 * DHCP client side of bench/storm.ts: the requests a PXE ROM, iPXE and the
 * Alpine initramfs (udhcpc) send, built with mesh's own codec, and one raw
 * socket that carries every simulated node's exchanges (the generator drives
 * hundreds of MACs through one interface, so the kernel's DHCP client cannot
 * be used). Replies are matched to their exchange by xid.
 */
import {
  archListValue,
  chaddrFromMac,
  decodePacket,
  type DhcpPacket,
  encodePacket,
  getBootfileName,
  getMessageType,
  getServerId,
  ipValue,
  MessageType,
  Opt,
  textValue,
  u16Value,
  u8Value,
  userClassListValue,
} from "../src/dhcp/mod.ts";
import {
  bpfUdpDstPort,
  BROADCAST_MAC,
  decodeUdpFrame,
  encodeUdpFrame,
  RawSocket,
} from "../src/net/mod.ts";
import { macToBytes } from "../src/wire/mod.ts";

/** Which boot stage's DHCP client is speaking. */
export type Flavor = "pxe" | "ipxe" | "linux";

export interface ClientIdentity {
  readonly mac: string;
  /** SMBIOS UUID text (as dmidecode and iPXE's ${uuid} show it). */
  readonly uuid: string;
  /** Option 93 architecture: 0 BIOS, 7 x64 UEFI. */
  readonly arch: number;
}

/** Retransmit schedules (ms to wait after each send), as the real clients use them. */
export const TIMERS: Record<Flavor, readonly number[]> = {
  // PXE spec: 4, 8, 16, 32 s.
  pxe: [4000, 8000, 16000, 32000],
  // iPXE starts at 1 s and doubles up to 10 s.
  ipxe: [1000, 2000, 4000, 8000, 10000, 10000],
  // busybox udhcpc defaults: -t 3 -T 3, then again after its 20 s pause.
  linux: [3000, 3000, 3000, 20000, 3000, 3000, 3000],
};

/** Option 97 bytes: SMBIOS stores the first three UUID fields little-endian, ROMs copy them. */
export function uuidOption(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  const b = Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Uint8Array.from([0, ...order.map((i) => b[i]!)]);
}

function pxeClass(arch: number): string {
  return `PXEClient:Arch:${String(arch).padStart(5, "0")}:UNDI:002001`;
}

/** A DISCOVER (no `offer`) or a REQUEST for `offer` from one flavor of client. */
export function buildRequest(
  id: ClientIdentity,
  flavor: Flavor,
  xid: number,
  secs: number,
  offer?: { yiaddr: number; server: number },
): Uint8Array {
  const o = new Map<number, Uint8Array>();
  o.set(Opt.MessageType, u8Value(offer ? MessageType.Request : MessageType.Discover));
  if (offer) {
    o.set(Opt.RequestedIpAddress, ipValue(offer.yiaddr));
    o.set(Opt.ServerIdentifier, ipValue(offer.server));
  }
  if (flavor === "linux") {
    o.set(Opt.ClientIdentifier, Uint8Array.from([1, ...macToBytes(id.mac)]));
    o.set(Opt.MaxMessageSize, u16Value(576));
    o.set(Opt.VendorClassIdentifier, textValue("udhcp 1.37.0"));
    o.set(Opt.ParameterRequestList, Uint8Array.from([1, 3, 6, 12, 15, 28, 42]));
  } else {
    o.set(Opt.MaxMessageSize, u16Value(1472));
    o.set(Opt.ParameterRequestList, Uint8Array.from([1, 3, 6, 12, 15, 17, 43, 60, 66, 67, 175]));
    o.set(Opt.ClientSystemArchitecture, archListValue([id.arch]));
    o.set(Opt.ClientNetworkInterface, Uint8Array.from([1, 2, 1]));
    o.set(Opt.ClientMachineIdentifier, uuidOption(id.uuid));
    o.set(Opt.VendorClassIdentifier, textValue(pxeClass(id.arch)));
    if (flavor === "ipxe") {
      o.set(Opt.UserClass, userClassListValue(["iPXE"]));
      // iPXE's feature flags (175.19 HTTP, 175.23 bzImage); mesh and dnsmasq key on 175 alone.
      o.set(Opt.IpxeEncapsulated, Uint8Array.from([19, 1, 1, 24, 1, 1]));
    }
  }
  const pkt: DhcpPacket = {
    op: 1,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: Math.min(secs, 0xffff),
    // The simulated nodes share one kernel interface (one MAC for TFTP/TCP),
    // so replies must not be unicast to chaddr: dnsmasq would then write
    // yiaddr -> chaddr into its ARP cache and nginx's packets would go to a
    // MAC no interface here owns. PXE ROMs and iPXE set this flag anyway.
    flags: 0x8000,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: chaddrFromMac(id.mac),
    sname: "",
    file: "",
    options: o,
  };
  return encodePacket(pkt);
}

/** What a client keeps of a reply. */
export interface Reply {
  readonly type: number;
  readonly yiaddr: number;
  readonly siaddr: number;
  readonly server: number;
  /** Boot file: the header field, or option 67. */
  readonly file: string;
  readonly at: number;
}

interface Waiter {
  readonly types: readonly number[];
  resolve(r: Reply | null): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * One raw socket for many clients: sends their frames from 0.0.0.0 with
 * their own source MAC, and hands each reply to the exchange waiting on its
 * xid. Replies for no waiter (retransmit duplicates, other clients) are dropped.
 */
export class DhcpMux {
  readonly #sock: RawSocket;
  readonly #waiters = new Map<number, Waiter>();
  #stopped = false;
  readonly done: Promise<void>;
  sendErrors = 0;
  decodeErrors = 0;

  constructor(ifname: string) {
    this.#sock = RawSocket.open(ifname, bpfUdpDstPort(68), { rcvbuf: 4 << 20 });
    this.done = this.#loop();
  }

  async #loop(): Promise<void> {
    const buf = new Uint8Array(9216);
    while (!this.#stopped) {
      await this.#sock.wait(200);
      for (let i = 0; i < 4096; i++) {
        const n = this.#sock.recvInto(buf);
        if (n < 0) break;
        this.#dispatch(buf.subarray(0, n));
      }
    }
  }

  #dispatch(frame: Uint8Array): void {
    try {
      const udp = decodeUdpFrame(frame);
      if (udp === null || udp.srcPort !== 67) return;
      const p = decodePacket(udp.payload, { copy: false });
      const w = this.#waiters.get(p.xid);
      const type = getMessageType(p.options) ?? 0;
      if (p.op !== 2 || w === undefined || !w.types.includes(type)) return;
      this.#waiters.delete(p.xid);
      clearTimeout(w.timer);
      w.resolve({
        type,
        yiaddr: p.yiaddr,
        siaddr: p.siaddr,
        server: getServerId(p.options) ?? udp.srcIp,
        file: p.file !== "" ? p.file : getBootfileName(p.options) ?? "",
        at: performance.now(),
      });
    } catch {
      this.decodeErrors++;
    }
  }

  /** Broadcasts `payload` from `mac` and waits up to `timeoutMs` for a reply of `types`. */
  exchange(
    mac: string,
    xid: number,
    payload: Uint8Array,
    types: readonly number[],
    timeoutMs: number,
  ): Promise<Reply | null> {
    this.#waiters.get(xid)?.resolve(null);
    return new Promise((resolve) => {
      const w: Waiter = {
        types,
        resolve,
        timer: setTimeout(() => {
          if (this.#waiters.get(xid) === w) this.#waiters.delete(xid);
          resolve(null);
        }, timeoutMs),
      };
      this.#waiters.set(xid, w);
      const frame = encodeUdpFrame({
        srcMac: macToBytes(mac),
        dstMac: BROADCAST_MAC,
        srcIp: 0,
        dstIp: 0xffffffff,
        srcPort: 68,
        dstPort: 67,
        payload,
      }) as Uint8Array<ArrayBuffer>;
      if (!this.#sock.send(frame)) this.sendErrors++;
    });
  }

  async close(): Promise<void> {
    this.#stopped = true;
    for (const w of this.#waiters.values()) {
      clearTimeout(w.timer);
      w.resolve(null);
    }
    this.#waiters.clear();
    await this.done;
    this.#sock.close();
  }
}
