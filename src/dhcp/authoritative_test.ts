import assert from "node:assert/strict";
import { committing } from "./_test_commit.ts";
import { type BootFilesConfig, DEFAULT_BOOT_FILES } from "../boot/mod.ts";
import { formatIpv4, parseCidr, parseIpv4 } from "../wire/mod.ts";
import {
  type ClientSpec,
  guidOption,
  makeDecline,
  makeDiscover,
  makeInform,
  makePacket,
  makeRelease,
  makeRequest,
} from "../testing/dhcp_factories.ts";
import {
  type AuthoritativeDeps,
  authoritativeResponder,
  type Decision,
  decodePacket,
  encodePacket,
  getBootfileName,
  getHostname,
  getLeaseTime,
  getMessageType,
  getRebindingTime,
  getRelayAgentInfo,
  getRenewalTime,
  getRouters,
  getServerId,
  getSubnetMask,
  getVendorClass,
  type LeaseRow,
  MessageType,
  Opt,
  type RequestContext,
} from "./mod.ts";

const ip = parseIpv4;
const SERVER = "10.0.0.1";
const T0 = 1_700_000_000_000;
const boot = (_segment: string, serverIp: number): BootFilesConfig => ({
  ...DEFAULT_BOOT_FILES,
  tftpServer: serverIp,
  httpBase: `http://${formatIpv4(serverIp)}:8080`,
});

function deps(over: Partial<AuthoritativeDeps> = {}): AuthoritativeDeps {
  return {
    segments: [{
      pool: {
        segment: "lan0",
        subnet: parseCidr("10.0.0.0/24"),
        rangeStart: ip("10.0.0.100"),
        rangeEnd: ip("10.0.0.109"),
        excluded: [ip(SERVER)],
        reservations: [
          { mac: "52:54:00:00:aa:aa", ip: ip("10.0.0.50"), hostname: "fixed" },
          { node: "deadbeef", ip: ip("10.0.0.51") },
        ],
      },
      leaseTime: 3600,
      routers: [ip("10.0.0.254")],
      dns: [ip("10.0.0.1")],
      domain: "mesh.lan",
    }, {
      pool: {
        segment: "relay-net",
        subnet: parseCidr("10.20.0.0/24"),
        rangeStart: ip("10.20.0.50"),
        rangeEnd: ip("10.20.0.60"),
      },
      leaseTime: 600,
    }],
    boot,
    ...over,
  };
}
function ctx(now = T0, over: Partial<RequestContext> = {}): RequestContext {
  return {
    segment: "lan0",
    serverIp: ip(SERVER),
    ifaceSubnet: parseCidr("10.0.0.0/24"),
    now,
    receivedVia: "broadcast",
    ...over,
  };
}
function replyOf(d: Decision) {
  assert.equal(d.kind, "reply", d.reason);
  if (d.kind !== "reply") throw new Error("unreachable");
  // Every reply survives the wire.
  assert.deepEqual(decodePacket(encodePacket(d.packet)), d.packet);
  return d;
}
const typeOf = (d: Decision) => d.kind === "reply" ? getMessageType(d.packet.options) : d.kind;

/** Full DORA for one client; returns the ACKed address. */
function dora(r: ReturnType<typeof authoritativeResponder>, spec: ClientSpec, now = T0): string {
  const offer = replyOf(r.respond(makeDiscover(spec), ctx(now)));
  assert.equal(getMessageType(offer.packet.options), MessageType.Offer);
  const yi = formatIpv4(offer.packet.yiaddr);
  const ack = replyOf(
    r.respond(makeRequest({ ...spec, serverId: SERVER, requestedIp: yi }), ctx(now)),
  );
  assert.equal(getMessageType(ack.packet.options), MessageType.Ack, ack.reason);
  assert.equal(ack.changes.length >= 1, true);
  return formatIpv4(ack.packet.yiaddr);
}

Deno.test("respond() DISCOVER → OFFER with network options, no persisted change", () => {
  const r = committing(authoritativeResponder(deps()));
  const d = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:01" }), ctx()));
  const o = d.packet.options;
  assert.equal(getMessageType(o), MessageType.Offer);
  assert.equal(formatIpv4(d.packet.yiaddr), "10.0.0.100");
  assert.equal(formatIpv4(getServerId(o)!), SERVER);
  assert.equal(getLeaseTime(o), 3600);
  assert.equal(getRenewalTime(o), 1800);
  assert.equal(getRebindingTime(o), 3150);
  assert.equal(formatIpv4(getSubnetMask(o)!), "255.255.255.0");
  assert.deepEqual(getRouters(o)?.map(formatIpv4), ["10.0.0.254"]);
  assert.deepEqual(d.changes, []);
  assert.equal(d.probe, ip("10.0.0.100"));
  assert.deepEqual(d.destination, { kind: "link", mac: "52:54:00:00:00:01", ip: ip("10.0.0.100") });
  assert.equal(getBootfileName(o), undefined);
});

Deno.test("respond() REQUEST in SELECTING → ACK with a bound row", () => {
  const r = committing(authoritativeResponder(deps()));
  assert.equal(dora(r, { mac: "52:54:00:00:00:01" }), "10.0.0.100");
  const row = r.pool("lan0")!.lease(ip("10.0.0.100"))!;
  assert.equal(row.state, "bound");
  assert.equal(row.mac, "52:54:00:00:00:01");
  assert.equal(row.expiresAt, T0 + 3_600_000);
  assert.equal(row.segment, "lan0");
});

Deno.test("respond() ignores what it must not answer", () => {
  const r = committing(authoritativeResponder(deps()));
  const table: {
    name: string;
    pkt: ReturnType<typeof makeDiscover>;
    ctx?: Partial<RequestContext>;
    reason: RegExp;
  }[] = [
    { name: "a BOOTREPLY", pkt: { ...makeDiscover(), op: 2 }, reason: /not a BOOTREQUEST/ },
    { name: "non-Ethernet", pkt: { ...makeDiscover(), htype: 6 }, reason: /not Ethernet/ },
    {
      name: "plain BOOTP",
      pkt: { ...makeDiscover(), options: new Map() },
      reason: /without DHCP message type/,
    },
    { name: "a server message", pkt: makePacket(MessageType.Offer), reason: /server message/ },
    {
      name: "unserved segment",
      pkt: makeDiscover(),
      ctx: { segment: "wan" },
      reason: /not served/,
    },
    {
      name: "relay without pool",
      pkt: makeDiscover({ giaddr: "192.168.9.1" }),
      reason: /no pool for relay 192.168.9.1/,
    },
    {
      name: "REQUEST for another server",
      pkt: makeRequest({ serverId: "10.0.0.2", requestedIp: "10.0.0.100" }),
      reason: /chose server 10.0.0.2/,
    },
    {
      name: "SELECTING without option 50",
      pkt: makeRequest({ serverId: SERVER }),
      reason: /SELECTING without requested/,
    },
    { name: "empty REQUEST", pkt: makeRequest(), reason: /without server id/ },
    {
      name: "INIT-REBOOT for an unknown address",
      pkt: makeRequest({ requestedIp: "10.0.0.105" }),
      reason: /no record of 10.0.0.105/,
    },
    { name: "DECLINE without option 50", pkt: makeDecline(), reason: /without requested/ },
    {
      name: "DECLINE of a foreign address",
      pkt: makeDecline({ requestedIp: "10.0.0.101" }),
      reason: /not held by this client/,
    },
    {
      name: "DECLINE for another server",
      pkt: makeDecline({ requestedIp: "10.0.0.101", serverId: "10.0.0.9" }),
      reason: /another server/,
    },
    {
      name: "RELEASE of an unknown lease",
      pkt: makeRelease({ ciaddr: "10.0.0.101" }),
      reason: /not bound to this client/,
    },
    {
      name: "RELEASE for another server",
      pkt: makeRelease({ ciaddr: "10.0.0.101", serverId: "10.0.0.9" }),
      reason: /another server/,
    },
  ];
  for (const t of table) {
    const d = r.respond(t.pkt, ctx(T0, t.ctx));
    assert.equal(d.kind, "ignore", `${t.name}: ${d.reason}`);
    assert.match(d.reason, t.reason, t.name);
    assert.deepEqual(d.changes, [], t.name);
  }
});

const pxe = (arch: number) => `PXEClient:Arch:${String(arch).padStart(5, "0")}:UNDI:002001`;
Deno.test("respond() puts the boot decision of each firmware into the OFFER", () => {
  const table: {
    name: string;
    spec: ClientSpec;
    file?: string;
    siaddr?: string;
    vendor?: string;
  }[] = [
    { name: "BIOS", spec: { arch: 0, vendorClass: pxe(0) }, file: "undionly.kpxe", siaddr: SERVER },
    { name: "x64 UEFI", spec: { arch: 7, vendorClass: pxe(7) }, file: "ipxe.efi", siaddr: SERVER },
    {
      name: "x64 UEFI (9)",
      spec: { arch: 9, vendorClass: pxe(9) },
      file: "ipxe.efi",
      siaddr: SERVER,
    },
    {
      name: "UEFI HTTP",
      spec: { arch: 16, vendorClass: "HTTPClient:Arch:00016" },
      file: "http://10.0.0.1:8080/boot/ipxe.efi",
      siaddr: "0.0.0.0",
      vendor: "HTTPClient",
    },
    {
      name: "iPXE",
      spec: { arch: 0, vendorClass: pxe(0), userClass: "iPXE" },
      file: "http://10.0.0.1:8080/boot.ipxe?mac=${net0/mac}&uuid=${uuid}",
      siaddr: "0.0.0.0",
    },
    { name: "ARM64 without file", spec: { arch: 11, vendorClass: pxe(11) } },
    { name: "plain client", spec: { vendorClass: "udhcp 1.35.0" } },
  ];
  for (const [i, t] of table.entries()) {
    const r = committing(authoritativeResponder(deps()));
    const spec = { ...t.spec, mac: `52:54:00:00:01:0${i}`, machineId: guidOption(i) };
    const d = replyOf(r.respond(makeDiscover(spec), ctx()));
    const o = d.packet.options;
    assert.equal(getBootfileName(o), t.file, t.name);
    assert.equal(d.packet.file, t.file ?? "", t.name);
    if (t.siaddr !== undefined) assert.equal(formatIpv4(d.packet.siaddr), t.siaddr, t.name);
    assert.equal(getVendorClass(o), t.vendor, t.name);
    // Option 97 is echoed to boot clients; plain clients get no boot fields at all.
    assert.deepEqual(
      o.get(Opt.ClientMachineIdentifier),
      t.file ? guidOption(i) : undefined,
      t.name,
    );
    assert.match(d.reason, /boot: /, t.name);
  }
});

Deno.test("respond() tells iPXE not to wait for ProxyDHCP (175.176)", () => {
  const r = committing(authoritativeResponder(deps()));
  const d = replyOf(r.respond(makeDiscover({ userClass: "iPXE" }), ctx()));
  assert.deepEqual(d.packet.options.get(Opt.IpxeEncapsulated), Uint8Array.of(176, 1, 1, 255));
});

Deno.test("respond() echoes a malformed option 97 unchanged", () => {
  const r = committing(authoritativeResponder(deps()));
  const bad = Uint8Array.of(9, 9, 9);
  const d = replyOf(
    r.respond(makeDiscover({ arch: 7, vendorClass: pxe(7), machineId: bad }), ctx()),
  );
  assert.deepEqual(d.packet.options.get(Opt.ClientMachineIdentifier), bad);
});

Deno.test("respond() serves a relayed request from the relay's subnet, echoing option 82", () => {
  const r = committing(authoritativeResponder(deps()));
  const relayInfo = Uint8Array.of(1, 4, 0x65, 0x74, 0x68, 0x31);
  const spec = { mac: "02:00:00:00:00:07", giaddr: "10.20.0.1", relayInfo };
  const offer = replyOf(r.respond(makeDiscover(spec), ctx()));
  assert.equal(formatIpv4(offer.packet.yiaddr), "10.20.0.50");
  assert.deepEqual(offer.destination, { kind: "relay", ip: ip("10.20.0.1"), port: 67 });
  assert.equal(offer.packet.giaddr, ip("10.20.0.1"));
  assert.deepEqual(getRelayAgentInfo(offer.packet.options), relayInfo);
  assert.equal([...offer.packet.options.keys()].at(-1), Opt.RelayAgentInformation);
  assert.equal(getLeaseTime(offer.packet.options), 600);
  const ack = replyOf(
    r.respond(makeRequest({ ...spec, serverId: SERVER, requestedIp: "10.20.0.50" }), ctx()),
  );
  assert.equal(typeOf(ack), MessageType.Ack);
  assert.equal(ack.changes[0]?.segment, "relay-net");
});

Deno.test("respond() gives reservations by MAC and by node id", () => {
  const r = committing(authoritativeResponder(
    deps({ nodeIds: (c) => c.mac === "52:54:00:00:bb:bb" ? ["deadbeef"] : [] }),
  ));
  const byMac = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:aa:aa" }), ctx()));
  assert.equal(formatIpv4(byMac.packet.yiaddr), "10.0.0.50");
  assert.equal(getHostname(byMac.packet.options), "fixed");
  assert.equal(dora(r, { mac: "52:54:00:00:bb:bb" }), "10.0.0.51");
  // Nobody else gets a reserved address, even when asking for it.
  const other = replyOf(
    r.respond(makeDiscover({ mac: "52:54:00:00:00:09", requestedIp: "10.0.0.50" }), ctx()),
  );
  assert.equal(formatIpv4(other.packet.yiaddr), "10.0.0.100");
});

Deno.test("respond() NAKs a reserved client that asks for another address", () => {
  const r = committing(authoritativeResponder(deps()));
  const d = replyOf(
    r.respond(makeRequest({ mac: "52:54:00:00:aa:aa", requestedIp: "10.0.0.100" }), ctx()),
  );
  assert.equal(typeOf(d), MessageType.Nak);
  assert.match(d.reason, /reserved 10.0.0.50/);
});

Deno.test("respond() NAK paths: wrong subnet, someone else's address, unknown renewal", () => {
  const r = committing(authoritativeResponder(deps()));
  dora(r, { mac: "52:54:00:00:00:01" }); // 10.0.0.100
  const table: {
    name: string;
    pkt: ReturnType<typeof makeRequest>;
    via?: "unicast";
    reason: RegExp;
  }[] = [
    {
      name: "INIT-REBOOT on the wrong subnet",
      pkt: makeRequest({ mac: "52:54:00:00:00:02", requestedIp: "192.168.1.5" }),
      reason: /wrong subnet/,
    },
    {
      name: "INIT-REBOOT for another client's address",
      pkt: makeRequest({ mac: "52:54:00:00:00:02", requestedIp: "10.0.0.100" }),
      reason: /belongs to another client/,
    },
    {
      name: "SELECTING an address bound to someone else",
      pkt: makeRequest({ mac: "52:54:00:00:00:02", serverId: SERVER, requestedIp: "10.0.0.100" }),
      reason: /in use by another client/,
    },
    {
      name: "RENEWING without a lease",
      pkt: makeRequest({ mac: "52:54:00:00:00:03", ciaddr: "10.0.0.104" }),
      via: "unicast",
      reason: /no lease of 10.0.0.104.*RENEWING/,
    },
    {
      name: "REBINDING from another subnet",
      pkt: makeRequest({ mac: "52:54:00:00:00:03", ciaddr: "172.16.0.4", broadcast: true }),
      reason: /wrong subnet/,
    },
  ];
  for (const t of table) {
    const d = replyOf(r.respond(t.pkt, ctx(T0 + 1000, { receivedVia: t.via ?? "broadcast" })));
    assert.equal(typeOf(d), MessageType.Nak, t.name);
    assert.match(d.reason, t.reason, t.name);
    assert.deepEqual(d.destination, { kind: "broadcast" }, t.name);
    assert.equal(d.packet.yiaddr, 0, t.name);
    assert.equal(getLeaseTime(d.packet.options), undefined, t.name);
    assert.deepEqual(d.changes, [], t.name);
  }
  // The NAKs changed nothing: the first client still holds its lease.
  assert.equal(r.pool("lan0")!.lease(ip("10.0.0.100"))?.mac, "52:54:00:00:00:01");
});

Deno.test("respond() renews (unicast) and rebinds (broadcast) an existing lease", () => {
  const r = committing(authoritativeResponder(deps()));
  const mac = "52:54:00:00:00:01";
  dora(r, { mac });
  const renew = replyOf(
    r.respond(
      makeRequest({ mac, ciaddr: "10.0.0.100" }),
      ctx(T0 + 1_800_000, { receivedVia: "unicast" }),
    ),
  );
  assert.equal(typeOf(renew), MessageType.Ack);
  assert.equal(renew.packet.ciaddr, ip("10.0.0.100"));
  assert.deepEqual(renew.destination, { kind: "unicast", ip: ip("10.0.0.100"), mac });
  assert.equal(renew.changes[0]?.expiresAt, T0 + 1_800_000 + 3_600_000);
  assert.equal(renew.changes[0]?.startsAt, T0); // same lease, extended
  const rebind = replyOf(
    r.respond(makeRequest({ mac, ciaddr: "10.0.0.100", broadcast: true }), ctx(T0 + 3_200_000)),
  );
  assert.equal(typeOf(rebind), MessageType.Ack);
  assert.match(rebind.reason, /REBINDING/);
});

Deno.test("respond() RELEASE then re-request gives the same address back", () => {
  const r = committing(authoritativeResponder(deps()));
  const mac = "52:54:00:00:00:01";
  assert.equal(dora(r, { mac }), "10.0.0.100");
  dora(r, { mac: "52:54:00:00:00:02" }); // 10.0.0.101
  const rel = r.respond(makeRelease({ mac, ciaddr: "10.0.0.100", serverId: SERVER }), ctx(T0 + 10));
  assert.equal(rel.kind, "record");
  assert.equal(rel.changes[0]?.state, "released");
  assert.equal(dora(r, { mac }, T0 + 20), "10.0.0.100");
  // INIT-REBOOT of a released lease is confirmed too.
  r.respond(makeRelease({ mac, ciaddr: "10.0.0.100" }), ctx(T0 + 30));
  const reboot = replyOf(r.respond(makeRequest({ mac, requestedIp: "10.0.0.100" }), ctx(T0 + 40)));
  assert.equal(typeOf(reboot), MessageType.Ack);
});

Deno.test("respond() DECLINE quarantines the address until the quarantine ends", () => {
  const r = committing(authoritativeResponder(deps()));
  const mac = "52:54:00:00:00:01";
  assert.equal(dora(r, { mac }), "10.0.0.100");
  const d = r.respond(
    makeDecline({ mac, requestedIp: "10.0.0.100", serverId: SERVER }),
    ctx(T0 + 5),
  );
  assert.equal(d.kind, "record");
  assert.equal(d.changes[0]?.state, "declined");
  assert.equal(d.changes[0]?.expiresAt, T0 + 5 + 600_000);
  // The decliner gets another address, and nobody gets the declined one.
  assert.equal(dora(r, { mac }, T0 + 6), "10.0.0.101");
  const other = replyOf(
    r.respond(makeDiscover({ mac: "52:54:00:00:00:02", requestedIp: "10.0.0.100" }), ctx(T0 + 7)),
  );
  assert.notEqual(formatIpv4(other.packet.yiaddr), "10.0.0.100");
});

Deno.test("respond() ignores DISCOVER when the pool is exhausted, then reuses expired leases oldest first", () => {
  const r = committing(authoritativeResponder(deps()));
  for (let i = 0; i < 10; i++) {
    // Lease i expires at T0 + 3600 s + i s (bound one second apart).
    dora(r, { mac: `52:54:00:00:02:0${i}` }, T0 + i * 1000);
  }
  const full = r.respond(makeDiscover({ mac: "52:54:00:00:03:00" }), ctx(T0 + 20_000));
  assert.equal(full.kind, "ignore");
  assert.match(full.reason, /exhausted/);
  // The shell counts and logs it from this marker, not from the reason's wording.
  assert.deepEqual(full.kind === "ignore" ? full.exhausted : undefined, {
    segment: "lan0",
    rangeStart: ip("10.0.0.100"),
    rangeEnd: ip("10.0.0.109"),
  });
  const later = T0 + 3_700_000;
  assert.equal(dora(r, { mac: "52:54:00:00:03:00" }, later), "10.0.0.100");
  assert.equal(dora(r, { mac: "52:54:00:00:03:01" }, later), "10.0.0.101");
  // A returning client whose address was not reused yet gets it back.
  assert.equal(dora(r, { mac: "52:54:00:00:02:05" }, later), "10.0.0.105");
});

Deno.test("respond() releases our OFFER when the client picks another server", () => {
  const r = committing(authoritativeResponder(deps()));
  const a = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:01" }), ctx()));
  r.respond(
    makeRequest({ mac: "52:54:00:00:00:01", serverId: "10.0.0.2", requestedIp: "10.0.0.77" }),
    ctx(),
  );
  const b = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:02" }), ctx()));
  assert.equal(b.packet.yiaddr, a.packet.yiaddr);
});

Deno.test("respond() answers INFORM without address or lease time, unicast to ciaddr", () => {
  const r = committing(authoritativeResponder(deps()));
  const d = replyOf(r.respond(makeInform({ ciaddr: "10.0.0.7" }), ctx()));
  assert.equal(typeOf(d), MessageType.Ack);
  assert.equal(d.packet.yiaddr, 0);
  assert.equal(getLeaseTime(d.packet.options), undefined);
  assert.ok(getSubnetMask(d.packet.options) !== undefined);
  assert.deepEqual(d.destination, {
    kind: "unicast",
    ip: ip("10.0.0.7"),
    mac: "52:54:00:00:00:01",
  });
  assert.deepEqual(d.changes, []);
});

Deno.test("respond() restores leases from rows: same client, same address", () => {
  const r1 = committing(authoritativeResponder(deps()));
  const rows: LeaseRow[] = [];
  for (let i = 0; i < 3; i++) {
    const spec = { mac: `52:54:00:00:04:0${i}` };
    const offer = replyOf(r1.respond(makeDiscover(spec), ctx()));
    const ack = replyOf(
      r1.respond(
        makeRequest({ ...spec, serverId: SERVER, requestedIp: formatIpv4(offer.packet.yiaddr) }),
        ctx(),
      ),
    );
    rows.push(...ack.changes);
  }
  const r2 = committing(authoritativeResponder(deps({ rows })));
  assert.deepEqual(r2.pool("lan0")!.rows(), r1.pool("lan0")!.rows());
  const again = replyOf(r2.respond(makeDiscover({ mac: "52:54:00:00:04:01" }), ctx(T0 + 1)));
  assert.equal(formatIpv4(again.packet.yiaddr), "10.0.0.101");
  const fresh = replyOf(r2.respond(makeDiscover({ mac: "52:54:00:00:04:09" }), ctx(T0 + 1)));
  assert.equal(formatIpv4(fresh.packet.yiaddr), "10.0.0.103");
  const renew = replyOf(
    r2.respond(
      makeRequest({ mac: "52:54:00:00:04:02", ciaddr: "10.0.0.102" }),
      ctx(T0 + 2, { receivedVia: "unicast" }),
    ),
  );
  assert.equal(typeOf(renew), MessageType.Ack);
});

Deno.test("respond() keeps replies within the client's maximum message size", () => {
  const long = Array.from({ length: 60 }, (_, i) => ip(`10.0.1.${i + 1}`));
  const r = committing(authoritativeResponder(deps({
    segments: [{ ...deps().segments[0]!, dns: long, domain: "x".repeat(200) }],
  })));
  const small = replyOf(r.respond(makeDiscover({ userClass: "iPXE" }), ctx()));
  assert.ok(encodePacket(small.packet).length <= 576 - 28);
  assert.ok(getBootfileName(small.packet.options) !== undefined);
  const big = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:02", maxSize: 1500 }), ctx()));
  assert.equal(big.packet.options.get(Opt.DomainNameServer)?.length, 240);
});

Deno.test("probeFailed() quarantines an address so the next OFFER skips it", () => {
  const r = committing(authoritativeResponder(deps()));
  const first = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:01" }), ctx()));
  assert.equal(first.probe, ip("10.0.0.100"));
  const changes = r.probeFailed("lan0", ip("10.0.0.100"), T0, "aa:bb:cc:dd:ee:ff");
  assert.equal(changes[0]?.state, "declined");
  const again = replyOf(r.respond(makeDiscover({ mac: "52:54:00:00:00:01" }), ctx(T0 + 1)));
  assert.equal(formatIpv4(again.packet.yiaddr), "10.0.0.101");
});

Deno.test("expireDue() marks overdue bound leases expired", () => {
  const r = committing(authoritativeResponder(deps()));
  dora(r, { mac: "52:54:00:00:00:01" });
  assert.deepEqual(r.expireDue(T0 + 1000), []);
  const c = r.expireDue(T0 + 3_600_000);
  assert.equal(c.length, 1);
  assert.equal(c[0]?.state, "expired");
});

Deno.test("respond() marks only 'no free address' as exhaustion", () => {
  const r = committing(authoritativeResponder(deps()));
  const ignored = [
    r.respond(makeRequest({ mac: "52:54:00:00:00:01", serverId: "10.9.9.9" }), ctx()),
    r.respond(makeDiscover({ mac: "52:54:00:00:00:01" }), ctx(T0, { segment: "nowhere" })),
    r.respond(makeRelease({ mac: "52:54:00:00:00:01", ciaddr: "10.0.0.100" }), ctx()),
  ];
  for (const d of ignored) {
    assert.equal(d.kind, "ignore", d.reason);
    assert.equal(d.kind === "ignore" ? d.exhausted : "n/a", undefined, d.reason);
  }
  // A relayed pool reports its own segment and range.
  for (let i = 0; i < 11; i++) {
    const spec = { mac: `52:54:00:00:05:${i.toString(16).padStart(2, "0")}`, giaddr: "10.20.0.1" };
    assert.equal(typeOf(r.respond(makeDiscover(spec), ctx())), MessageType.Offer);
  }
  const full = r.respond(makeDiscover({ mac: "52:54:00:00:06:00", giaddr: "10.20.0.1" }), ctx());
  assert.deepEqual(full.kind === "ignore" ? full.exhausted : undefined, {
    segment: "relay-net",
    rangeStart: ip("10.20.0.50"),
    rangeEnd: ip("10.20.0.60"),
  });
});

Deno.test("knows() is true for a lease or a reservation, false for a stranger, and changes nothing", () => {
  const r = committing(authoritativeResponder(
    deps({ nodeIds: (c) => c.mac === "52:54:00:00:bb:bb" ? ["deadbeef"] : [] }),
  ));
  const stranger = makeDiscover({ mac: "52:54:00:00:00:77" });
  assert.equal(r.knows(stranger, ctx()), false);
  // Asking does not hold an offer: the stranger's DISCOVER still gets the first address.
  assert.equal(r.pool("lan0")!.counts(T0).offered, 0);
  assert.equal(r.knows(makeDiscover({ mac: "52:54:00:00:aa:aa" }), ctx()), true, "MAC reservation");
  assert.equal(
    r.knows(makeDiscover({ mac: "52:54:00:00:bb:bb" }), ctx()),
    true,
    "node reservation",
  );
  // An offer alone is not a lease; the ACK makes the client known, and so does its old lease.
  const mac = "52:54:00:00:00:01";
  replyOf(r.respond(makeDiscover({ mac }), ctx()));
  assert.equal(r.knows(makeDiscover({ mac }), ctx()), false);
  const yi = dora(r, { mac });
  assert.equal(r.knows(makeDiscover({ mac }), ctx()), true);
  r.respond(makeRelease({ mac, ciaddr: yi, serverId: SERVER }), ctx());
  assert.equal(r.knows(makeDiscover({ mac }), ctx(T0 + 1000)), true, "after RELEASE");
  // Known on the pool the request is for: on another segment or an unserved relay it is not.
  assert.equal(r.knows(makeDiscover({ mac, giaddr: "10.20.0.1" }), ctx()), false);
  assert.equal(r.knows(makeDiscover({ mac }), ctx(T0, { segment: "nowhere" })), false);
});
