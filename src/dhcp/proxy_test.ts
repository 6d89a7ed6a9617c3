import assert from "node:assert/strict";
import fc from "fast-check";
import { type BootFilesConfig, DEFAULT_BOOT_FILES } from "../boot/mod.ts";
import { DecodeError } from "../errors.ts";
import { formatIpv4, parseCidr, parseIpv4 } from "../wire/mod.ts";
import {
  type ClientSpec,
  guidOption,
  loadDhcpFixture,
  makeDiscover,
  makePacket,
  makeRequest,
} from "../testing/dhcp_factories.ts";
import type { Decision, RequestContext } from "./authoritative.ts";
import { MessageType, Op, Opt } from "./constants.ts";
import { getBootfileName, getMessageType, getServerId, getVendorClass } from "./option_values.ts";
import { decodePacket, type DhcpPacket, encodePacket } from "./packet.ts";
import {
  type BootServerContext,
  type BootServerDecision,
  type ProxyConfig,
  ProxyIgnore,
  proxyResponder,
  type ProxyStrategies,
} from "./proxy.ts";
import { getPxeVendorOptions } from "./pxe_options.ts";
import type { DhcpResponder } from "./server.ts";

const US = "10.0.0.1";
const CLIENT_IP = "10.0.0.123";
const files = (serverIp: number): BootFilesConfig => ({
  ...DEFAULT_BOOT_FILES,
  tftpServer: serverIp,
  httpBase: `http://${formatIpv4(serverIp)}:8080`,
  efiIa32: "ipxe-ia32.efi",
  efiArm64: "ipxe-arm64.efi",
});
const cfg = (over: Partial<ProxyConfig> = {}): ProxyConfig => ({
  boot: (_segment, ip) => files(ip),
  ...over,
});
const ctx: RequestContext = {
  segment: "lan0",
  serverIp: parseIpv4(US),
  ifaceSubnet: parseCidr("10.0.0.0/24"),
  now: 0,
  receivedVia: "broadcast",
};
const ctx4011: BootServerContext = {
  segment: "lan0",
  serverIp: parseIpv4(US),
  srcIp: parseIpv4(CLIENT_IP),
  srcPort: 68,
};
const pxe = (arch: number): ClientSpec => ({
  arch,
  vendorClass: `PXEClient:Arch:${String(arch).padStart(5, "0")}:UNDI:003016`,
});
const HTTP_BOOT: ClientSpec = { arch: 16, vendorClass: "HTTPClient:Arch:00016" };

function reply(d: Decision | BootServerDecision): DhcpPacket {
  assert.equal(d.kind, "reply", d.reason);
  if (d.kind !== "reply") throw new Error("unreachable");
  assert.deepEqual(decodePacket(encodePacket(d.packet)), d.packet, "survives the wire");
  if ("changes" in d) assert.deepEqual(d.changes, [], "a proxy never changes leases");
  return d.packet;
}
function ignored(d: Decision | BootServerDecision): string {
  assert.equal(d.kind, "ignore", d.reason);
  return d.reason.split(":")[0]!;
}
const fileOf = (p: DhcpPacket) => getBootfileName(p.options) ?? (p.file || undefined);

Deno.test("proxyResponder fits the server loop's DhcpResponder", () => {
  const r: DhcpResponder = proxyResponder(cfg());
  assert.equal(typeof r.respond, "function");
  assert.equal(r.apply, undefined, "nothing to commit, ever");
});

Deno.test("every ignore reason, on 67 and on 4011", async () => {
  const r = proxyResponder(cfg());
  const bare = (p: DhcpPacket, drop: number) => {
    const options = new Map(p.options);
    options.delete(drop);
    return { ...p, options };
  };
  const cases: [string, DhcpPacket, string][] = [
    ["BOOTREPLY", { ...makeDiscover(pxe(0)), op: Op.BootReply }, ProxyIgnore.NotBootRequest],
    ["token ring", { ...makeDiscover(pxe(0)), htype: 6 }, ProxyIgnore.NotEthernet],
    ["BOOTP", bare(makeDiscover(pxe(0)), Opt.MessageType), ProxyIgnore.NoMessageType],
    ["RELEASE", makePacket(MessageType.Release, pxe(0)), ProxyIgnore.NotProxied],
    ["DECLINE", makePacket(MessageType.Decline, pxe(7)), ProxyIgnore.NotProxied],
    ["INFORM", makePacket(MessageType.Inform, pxe(7)), ProxyIgnore.NotProxied],
    ["OFFER", makePacket(MessageType.Offer, pxe(7)), ProxyIgnore.NotProxied],
    ["plain client", makeDiscover({}), ProxyIgnore.NotNetboot],
    ["Windows", makeDiscover({ vendorClass: "MSFT 5.0" }), ProxyIgnore.NotNetboot],
    ["option 93 alone", makeDiscover({ arch: 7 }), ProxyIgnore.NotNetboot],
    ["relayed", makeDiscover({ ...pxe(0), giaddr: "10.9.0.1" }), ProxyIgnore.Relayed],
    ["REQUEST for dnsmasq", makeRequest({ ...pxe(0), serverId: "10.0.0.2" }), "other-server"],
    ["RENEWING", makeRequest({ ...pxe(0), ciaddr: CLIENT_IP }), ProxyIgnore.OtherServer],
    [
      "udhcpc took our OFFER",
      makeRequest({ ...pxe(0), serverId: US, requestedIp: "0.0.0.0" }),
      ProxyIgnore.SelectsProxyOffer,
    ],
    ["U-Boot arch 22", makeDiscover(pxe(22)), ProxyIgnore.NoBootFile],
    [
      "relayed capture",
      decodePacket(await loadDhcpFixture("relayed_request.hex")),
      ProxyIgnore.NotNetboot,
    ],
  ];
  for (const [name, pkt, code] of cases) assert.equal(ignored(r.respond(pkt, ctx)), code, name);

  const none = proxyResponder(cfg({ boot: () => undefined }));
  assert.equal(ignored(none.respond(makeDiscover(pxe(0)), ctx)), ProxyIgnore.NoBootConfig);
  const noArm = proxyResponder(cfg({ boot: (_s, ip) => ({ ...files(ip), efiArm64: undefined }) }));
  assert.equal(ignored(noArm.respond(makeDiscover(pxe(11)), ctx)), ProxyIgnore.NoBootFile);

  const on4011: [string, DhcpPacket, BootServerContext, string][] = [
    ["BOOTREPLY", { ...makeRequest(pxe(7)), op: Op.BootReply }, ctx4011, "not-bootrequest"],
    ["DISCOVER", makeDiscover(pxe(7)), ctx4011, ProxyIgnore.NotProxied],
    ["BOOTP", bare(makeRequest(pxe(7)), Opt.MessageType), ctx4011, ProxyIgnore.NoMessageType],
    ["plain", makeRequest({ ciaddr: CLIENT_IP }), ctx4011, ProxyIgnore.NotNetboot],
    ["relayed", makeRequest({ ...pxe(7), giaddr: "10.9.0.1" }), ctx4011, ProxyIgnore.Relayed],
    ["from 0.0.0.0", makeRequest(pxe(7)), { ...ctx4011, srcIp: 0 }, ProxyIgnore.NoSourceAddress],
  ];
  for (const [name, pkt, c, code] of on4011) {
    assert.equal(ignored(r.respond4011(pkt, c)), code, `${name} on 4011`);
  }
  assert.equal(ignored(none.respond4011(makeRequest(pxe(7)), ctx4011)), ProxyIgnore.NoBootConfig);
});

const STRATEGIES: ProxyStrategies[] = [
  { bios: "option43", uefi: "port4011" },
  { bios: "port4011", uefi: "option43" },
  { bios: "option43", uefi: "option43" },
  { bios: "port4011", uefi: "port4011" },
];
const ARCHS: [string, ClientSpec, "bios" | "uefi" | "http", string][] = [
  ["BIOS 0", pxe(0), "bios", "undionly.kpxe"],
  ["IA32 UEFI 6", pxe(6), "uefi", "ipxe-ia32.efi"],
  ["x64 UEFI 7", pxe(7), "uefi", "ipxe.efi"],
  ["EBC/x64 UEFI 9", pxe(9), "uefi", "ipxe.efi"],
  ["ARM64 UEFI 11", pxe(11), "uefi", "ipxe-arm64.efi"],
  ["UEFI HTTP boot 16", HTTP_BOOT, "http", `http://${US}:8080/boot/ipxe.efi`],
];

Deno.test("architecture × strategy: the OFFER, then the 4011 ACK", () => {
  for (const strategies of STRATEGIES) {
    const r = proxyResponder(cfg({ strategies }));
    for (const [name, spec, family, file] of ARCHS) {
      const what = `${name} with ${JSON.stringify(strategies)}`;
      const offer = reply(r.respond(makeDiscover({ ...spec, broadcast: true }), ctx));
      assert.equal(getMessageType(offer.options), MessageType.Offer, what);
      assert.equal(offer.yiaddr, 0, what);
      assert.equal(getServerId(offer.options), parseIpv4(US), what);
      assert.equal(offer.siaddr, parseIpv4(US), what);
      const http = family === "http";
      assert.equal(getVendorClass(offer.options), http ? "HTTPClient" : "PXEClient", what);
      const via4011 = !http && strategies[family] === "port4011";
      assert.equal(fileOf(offer), via4011 ? undefined : file, what);
      const o43 = getPxeVendorOptions(offer.options);
      assert.deepEqual(o43, via4011 || http ? undefined : { discoveryControl: 8 }, what);

      const req = makeRequest({ ...spec, ciaddr: CLIENT_IP });
      const d = r.respond4011(req, { ...ctx4011, srcPort: 4011 });
      const ack = reply(d);
      assert.deepEqual(d.kind === "reply" && d.to, { ip: parseIpv4(CLIENT_IP), port: 4011 });
      assert.equal(getMessageType(ack.options), MessageType.Ack, what);
      assert.equal(ack.yiaddr, 0, what);
      assert.equal(ack.ciaddr, parseIpv4(CLIENT_IP), what);
      assert.equal(ack.siaddr, parseIpv4(US), what);
      assert.equal(getServerId(ack.options), parseIpv4(US), what);
      assert.equal(getVendorClass(ack.options), http ? "HTTPClient" : "PXEClient", what);
      assert.equal(fileOf(ack), file, what);
      assert.equal(ack.options.has(Opt.VendorSpecific), false, what);
    }
  }
});

Deno.test("iPXE gets the boot-script URL in the OFFER under every strategy", async () => {
  const script = `http://${US}:8080/boot.ipxe?mac=\${net0/mac}&uuid=\${uuid}`;
  const captured = decodePacket(await loadDhcpFixture("ipxe_discover.hex"));
  for (const strategies of STRATEGIES) {
    const r = proxyResponder(cfg({ strategies }));
    for (const req of [captured, makeDiscover({ ...pxe(7), userClass: "iPXE" })]) {
      const offer = reply(r.respond(req, ctx));
      assert.equal(getBootfileName(offer.options), script);
      assert.equal(offer.file, script);
      // A non-zero siaddr and a file: iPXE takes the OFFER as complete.
      assert.equal(offer.siaddr, parseIpv4(US));
      assert.equal(getVendorClass(offer.options), "PXEClient");
      assert.equal(offer.options.has(Opt.IpxeEncapsulated), false, "no 'no ProxyDHCP' flag");
    }
  }
});

Deno.test("option 97 is echoed when present (also malformed), absent otherwise", () => {
  const r = proxyResponder(cfg());
  for (const id of [guidOption(), Uint8Array.of(0, 1, 2), undefined]) {
    for (const arch of [0, 7]) {
      const spec = { ...pxe(arch), ...(id ? { machineId: id } : {}) };
      const offer = reply(r.respond(makeDiscover(spec), ctx));
      const ack = reply(r.respond4011(makeRequest({ ...spec, ciaddr: CLIENT_IP }), ctx4011));
      assert.deepEqual(offer.options.get(Opt.ClientMachineIdentifier), id, `OFFER arch ${arch}`);
      assert.deepEqual(ack.options.get(Opt.ClientMachineIdentifier), id, `ACK arch ${arch}`);
    }
  }
});

Deno.test("REQUEST on 67 with option 54 = us is ACKed like 4011; where replies go", () => {
  const r = proxyResponder(cfg());
  const bound = r.respond(makeRequest({ ...pxe(7), serverId: US, ciaddr: CLIENT_IP }), ctx);
  assert.equal(fileOf(reply(bound)), "ipxe.efi");
  assert.deepEqual(bound.kind === "reply" && bound.destination, {
    kind: "unicast",
    ip: parseIpv4(CLIENT_IP),
    mac: "52:54:00:00:00:01",
  });
  const withAddress = makeRequest({ ...pxe(7), serverId: US, requestedIp: CLIENT_IP });
  assert.equal(fileOf(reply(r.respond(withAddress, ctx))), "ipxe.efi", "option 50 of its lease");
  const fresh = r.respond(makeRequest({ ...pxe(0), serverId: US }), ctx);
  assert.equal(fileOf(reply(fresh)), "undionly.kpxe");
  assert.deepEqual(fresh.kind === "reply" && fresh.destination, { kind: "broadcast" });
  // Not even a unicast-capable client gets a link-layer unicast: there is no yiaddr.
  const offer = r.respond(makeDiscover(pxe(7)), ctx);
  assert.deepEqual(offer.kind === "reply" && offer.destination, { kind: "broadcast" });
  const relayedOk = proxyResponder(cfg({ relayed: true }));
  const viaRelay = relayedOk.respond(makeDiscover({ ...pxe(0), giaddr: "10.9.0.1" }), ctx);
  assert.deepEqual(viaRelay.kind === "reply" && viaRelay.destination, {
    kind: "relay",
    ip: parseIpv4("10.9.0.1"),
    port: 67,
  });
});

Deno.test("real captures: SeaBIOS, OVMF (then its 4011 REQUEST), iPXE, UEFI HTTP boot", async () => {
  const r = proxyResponder(cfg());
  const load = async (n: string) => decodePacket(await loadDhcpFixture(n));
  const bios = reply(r.respond(await load("bios_pxe_discover.hex"), ctx));
  assert.equal(bios.file, "undionly.kpxe");
  assert.deepEqual(getPxeVendorOptions(bios.options), { discoveryControl: 8 });
  assert.equal(bios.options.get(Opt.ClientMachineIdentifier)?.length, 17);

  const ovmf = await load("ovmf_x64_discover.hex");
  const offer = reply(r.respond(ovmf, ctx));
  assert.equal(fileOf(offer), undefined, "default UEFI strategy: the file comes on 4011");
  assert.equal(offer.options.has(Opt.VendorSpecific), false);
  assert.deepEqual(offer.options.get(Opt.ClientMachineIdentifier), ovmf.options.get(97));
  // What OVMF sends next to 4011: the same options as a REQUEST from its new address.
  const options = new Map(ovmf.options).set(Opt.MessageType, Uint8Array.of(MessageType.Request));
  const ack = reply(r.respond4011({ ...ovmf, options, ciaddr: parseIpv4(CLIENT_IP) }, ctx4011));
  assert.equal(fileOf(ack), "ipxe.efi");
  assert.equal(ack.xid, ovmf.xid);

  const ipxe = reply(r.respond(await load("ipxe_discover.hex"), ctx));
  assert.match(fileOf(ipxe) ?? "", /^http:\/\/10\.0\.0\.1:8080\/boot\.ipxe\?mac=/);
  const http = reply(r.respond(await load("uefi_http_discover.hex"), ctx));
  assert.equal(fileOf(http), `http://${US}:8080/boot/ipxe.efi`);
  assert.equal(getVendorClass(http.options), "HTTPClient");
});

Deno.test("property: random requests never throw and never get a yiaddr", () => {
  const vendor = fc.constantFrom(
    "PXEClient:Arch:00000:UNDI:002001",
    "PXEClient:Arch:00007:UNDI:003016",
    "PXEClient",
    "HTTPClient:Arch:00016",
    "HTTPClient",
    "MSFT 5.0",
    "",
  );
  const text = (v: string) => new TextEncoder().encode(v);
  const ipBytes = (a: string) => Uint8Array.from(a.split(".").map(Number));
  // Mostly plausible boot requests (so the reply paths run), then noise on top.
  const likely = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { freq: 4, nil: undefined });
  const known = fc.record({
    type: likely(fc.constantFrom(1, 1, 3, 3, 4, 7, 8, 2, 0, 255)),
    vendor: likely(vendor),
    arch: likely(fc.oneof(fc.constantFrom(0, 6, 7, 9, 11, 16, 22), fc.nat(65535))),
    ipxe: fc.option(fc.constantFrom("iPXE", "x"), { nil: undefined }),
    serverId: fc.option(fc.constantFrom(US, "10.0.0.2"), { nil: undefined }),
    machineId: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: undefined }),
  });
  const noise = fc.array(
    fc.tuple(fc.integer({ min: 1, max: 254 }), fc.uint8Array({ maxLength: 40 })),
    { maxLength: 6 },
  );
  const packet = fc.record({
    op: fc.constantFrom(1, 1, 1, 2, 7),
    htype: fc.constantFrom(1, 1, 1, 6),
    hlen: fc.constantFrom(6, 6, 6, 16),
    flags: fc.constantFrom(0, 0x8000),
    ciaddr: fc.constantFrom(0, parseIpv4(CLIENT_IP)),
    yiaddr: fc.constantFrom(0, parseIpv4("10.0.0.99")),
    giaddr: fc.constantFrom(0, 0, 0, parseIpv4("10.9.0.1")),
    known,
    noise,
  });
  const toRequest = (p: typeof packet extends fc.Arbitrary<infer T> ? T : never): DhcpPacket => {
    const o = new Map<number, Uint8Array>();
    const k = p.known;
    if (k.type !== undefined) o.set(Opt.MessageType, Uint8Array.of(k.type));
    if (k.vendor !== undefined) o.set(Opt.VendorClassIdentifier, text(k.vendor));
    if (k.arch !== undefined) {
      o.set(Opt.ClientSystemArchitecture, Uint8Array.of(k.arch >> 8, k.arch));
    }
    if (k.ipxe !== undefined) o.set(Opt.UserClass, text(k.ipxe));
    if (k.serverId !== undefined) o.set(Opt.ServerIdentifier, ipBytes(k.serverId));
    if (k.machineId !== undefined) o.set(Opt.ClientMachineIdentifier, k.machineId);
    for (const [c, v] of p.noise) if (c !== Opt.MessageType || v.length === 1) o.set(c, v);
    const { known: _k, noise: _n, ...header } = p;
    return { ...makeDiscover(), ...header, options: o };
  };
  const responders = [proxyResponder(cfg()), proxyResponder(cfg({ relayed: true }))];
  let replies = 0;
  fc.assert(
    fc.property(packet, fc.nat(1), fc.integer({ min: 0, max: 65535 }), (p, which, port) => {
      const req = toRequest(p);
      const r = responders[which]!;
      for (const d of [r.respond(req, ctx), r.respond4011(req, { ...ctx4011, srcPort: port })]) {
        if (d.kind !== "reply") continue;
        replies++;
        assert.equal(d.packet.yiaddr, 0);
        encodePacket(d.packet);
      }
    }),
    { numRuns: 3000 },
  );
  assert.ok(replies > 50, `the generator reaches the reply paths (${replies} replies)`);
});

Deno.test("property: mutated captures never throw and never get a yiaddr", async () => {
  const names = ["bios_pxe_discover", "ovmf_x64_discover", "ipxe_discover", "uefi_http_discover"];
  const captures = await Promise.all(names.map((n) => loadDhcpFixture(`${n}.hex`)));
  const r = proxyResponder(cfg({ relayed: true }));
  const edits = fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 });
  fc.assert(
    fc.property(fc.nat(captures.length - 1), edits, (which, changes) => {
      const bytes = captures[which]!.slice();
      for (const [at, v] of changes) bytes[at % bytes.length] = v;
      let req: DhcpPacket;
      try {
        req = decodePacket(bytes);
      } catch (e) {
        if (e instanceof DecodeError) return; // the loop counts it
        throw e;
      }
      for (const d of [r.respond(req, ctx), r.respond4011(req, ctx4011)]) {
        if (d.kind === "reply") assert.equal(encodePacket(d.packet).length >= 300, true);
        if (d.kind === "reply") assert.equal(d.packet.yiaddr, 0);
      }
    }),
    { numRuns: 2000 },
  );
});
