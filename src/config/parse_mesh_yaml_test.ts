import assert from "node:assert/strict";
import { formatCidr, parseIpv4 } from "../wire/mod.ts";
import { formatIssue } from "../errors.ts";
import { parseMeshYaml } from "./parse_mesh_yaml.ts";
import { parseHost0Conf } from "./parse_host0_conf.ts";

function ok(text: string | null, legacy = {}) {
  const r = parseMeshYaml(text, "/h/mesh.yaml", "/h", legacy);
  assert.deepEqual(r.issues.map(formatIssue), []);
  return r.value;
}

function bad(text: string): string[] {
  return parseMeshYaml(text, "/h/mesh.yaml", "/h").issues.map(formatIssue);
}

Deno.test("mesh.yaml absent: every default applies", () => {
  const s = ok(null);
  assert.equal(s.stateDir, "/h/state");
  assert.deepEqual(s.subnetPool.map(formatCidr), ["10.11.0.0/16"]);
  assert.equal(s.defaultSubnetSize, 24);
  assert.deepEqual(s.interfaces, {});
  assert.deepEqual(s.dhcp, {
    leaseTime: 3600,
    dns: [],
    reservations: [],
    rogueAction: "switch",
    proxyBios: "option43",
    proxyUefi: "port4011",
  });
  assert.deepEqual(s.scan, {
    probes: 3,
    intervalMs: 30,
    settleMs: 250,
    subnetHoldMs: 168 * 3_600_000,
    dhcpProbeMs: 6000,
    reprobeMs: 600_000,
  });
  assert.deepEqual(s.tftp, {
    address: 0,
    port: 69,
    maxTransfers: 1000,
    perClient: 8,
    timeoutMs: 1000,
    retries: 5,
    root: "/h/state/boot",
  });
  assert.deepEqual(s.http, {
    address: 0,
    port: 80,
    overlayAccess: "lease",
    apiAccess: "management",
    management: [],
    statusPage: "on",
    maxConnections: 1024,
    maxPerClient: 64,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    pacing: "auto",
  });
  assert.deepEqual(s.boot, {
    ipxeDir: "/usr/lib/ipxe",
    bios: "undionly.kpxe",
    efiX64: "ipxe.efi",
    efiX64Snp: true,
    efiArm64: null,
    alpineBranch: "latest-stable",
  });
  assert.deepEqual(s.mirror, { dir: "/h/state/mirror" });
});

Deno.test("mesh.yaml: empty file and comments only give defaults", () => {
  assert.equal(ok("").defaultSubnetSize, 24);
  assert.equal(ok("# nothing\n").tftp.port, 69);
});

Deno.test("mesh.yaml: every key is read", () => {
  const s = ok(`
state_dir: /var/lib/mesh
subnet_pool: [10.20.0.0/16, 192.168.0.0/23]
default_subnet_size: 26
interfaces:
  eth0:
    mode: server
    address: 10.20.0.1/24
    subnet: 10.20.0.0/24
    pool: { start: 10.20.0.100, end: 10.20.0.200 }
    router: 10.20.0.1
    dns: [10.20.0.1, 1.1.1.1]
  eth1: { mode: proxy }
dhcp:
  lease_time: 600
  domain: lab.example
  dns: [10.20.0.1]
  reservations:
    - { mac: "AA-BB-CC-DD-EE-FF", ip: 10.20.0.5, hostname: box }
    - { node: 0a1b2c3d, ip: 10.20.0.6 }
tftp: { address: 10.20.0.1, port: 6969, max_transfers: 10, per_client: 2, timeout_ms: 500, retries: 3, root: tftproot }
http: { address: 10.20.0.1, port: 8080, public_host: boot.lab, overlay_access: any, api_access: any, management: [10.9.0.0/16], api_token_file: token, status_page: token, pacing: 1000 }
boot:
  ipxe_dir: ipxe
  bios: undionly.kpxe
  efi_x64: snponly.efi
  efi_x64_snp: true
  efi_arm64: ipxe-arm64.efi
  alpine_branch: v3.22
  kernel: alpine/vmlinuz-lts
  initramfs: alpine/initramfs-lts
  modloop: alpine/modloop-lts
  cmdline: console=ttyS0
mirror: { dir: /srv/mirror, upstream: "https://example.org/alpine/" }
`);
  assert.equal(s.stateDir, "/var/lib/mesh");
  assert.deepEqual(s.subnetPool.map(formatCidr), ["10.20.0.0/16", "192.168.0.0/23"]);
  assert.equal(s.defaultSubnetSize, 26);
  const eth0 = s.interfaces.eth0!;
  assert.equal(eth0.mode, "server");
  assert.deepEqual(eth0.address, { ip: parseIpv4("10.20.0.1"), prefix: 24 });
  assert.equal(formatCidr(eth0.subnet!), "10.20.0.0/24");
  assert.deepEqual(eth0.pool, { start: parseIpv4("10.20.0.100"), end: parseIpv4("10.20.0.200") });
  assert.equal(eth0.router, parseIpv4("10.20.0.1"));
  assert.deepEqual(eth0.dns, [parseIpv4("10.20.0.1"), parseIpv4("1.1.1.1")]);
  assert.equal(s.interfaces.eth1!.mode, "proxy");
  assert.equal(s.dhcp.leaseTime, 600);
  assert.equal(s.dhcp.domain, "lab.example");
  // `at` keeps where each value was written, for checks run after parsing
  const at = (line: number) => ({ file: "/h/mesh.yaml", line });
  assert.deepEqual(s.dhcp.reservations, [
    { mac: "aa:bb:cc:dd:ee:ff", ip: parseIpv4("10.20.0.5"), hostname: "box", at: at(19) },
    { node: "0a1b2c3d", ip: parseIpv4("10.20.0.6"), at: at(20) },
  ]);
  assert.deepEqual(s.dhcp.dnsAt, [at(17)]);
  assert.deepEqual(eth0.at, { address: at(8), router: at(11), dns: [at(12), at(12)] });
  assert.deepEqual(s.tftp, {
    address: parseIpv4("10.20.0.1"),
    port: 6969,
    maxTransfers: 10,
    perClient: 2,
    timeoutMs: 500,
    retries: 3,
    root: "/h/tftproot",
  });
  assert.deepEqual(s.http, {
    address: parseIpv4("10.20.0.1"),
    port: 8080,
    publicHost: "boot.lab",
    overlayAccess: "any",
    apiAccess: "any",
    management: [{ network: parseIpv4("10.9.0.0"), prefix: 16 }],
    apiTokenFile: "/h/token",
    statusPage: "token",
    maxConnections: 1024,
    maxPerClient: 64,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    pacing: 1000,
  });
  assert.deepEqual(s.boot, {
    ipxeDir: "/h/ipxe",
    bios: "undionly.kpxe",
    efiX64: "snponly.efi",
    efiX64Snp: true,
    efiArm64: "ipxe-arm64.efi",
    alpineBranch: "v3.22",
    kernel: "alpine/vmlinuz-lts",
    initramfs: "alpine/initramfs-lts",
    modloop: "alpine/modloop-lts",
    cmdline: "console=ttyS0",
  });
  assert.deepEqual(s.mirror, { dir: "/srv/mirror", upstream: "https://example.org/alpine" });
});

Deno.test("mesh.yaml: state_dir moves the state-relative defaults", () => {
  const s = ok("state_dir: /srv/state\n");
  assert.equal(s.tftp.root, "/srv/state/boot");
  assert.equal(s.mirror.dir, "/srv/state/mirror");
});

Deno.test("mesh.yaml: unknown keys are named with their line and a hint", () => {
  assert.deepEqual(bad("subnet_pol: [10.0.0.0/8]\n"), [
    '/h/mesh.yaml:1: unknown key "subnet_pol" (did you mean "subnet_pool"?)',
  ]);
  assert.deepEqual(bad("tftp:\n  port: 69\n  max_transfer: 5\n"), [
    '/h/mesh.yaml:3: unknown key "tftp.max_transfer" (did you mean "tftp.max_transfers"?)'.replace(
      'did you mean "tftp.max_transfers"',
      'did you mean "max_transfers"',
    ),
  ]);
  assert.deepEqual(bad("zebra: 1\n"), ['/h/mesh.yaml:1: unknown key "zebra"']);
});

Deno.test("mesh.yaml: every bad value is reported, each at its line", () => {
  const issues = bad(`default_subnet_size: 31
subnet_pool: [10.0.0.1/8]
interfaces:
  eth0:
    mode: sometimes
    address: 10.0.0.1
    pool: { start: 10.0.0.9, end: 10.0.0.2 }
dhcp:
  lease_time: 10
  reservations:
    - { ip: 10.0.0.5 }
    - { mac: nope, ip: 10.0.0.6 }
tftp: { port: 70000 }
http: { overlay_access: everyone }
boot: { efi_x64_snp: "yes", alpine_branch: stable }
mirror: { upstream: ftp://x }
`);
  const lines = issues.map((i) => Number(i.split(":")[1]));
  assert.deepEqual(lines, [1, 2, 5, 6, 7, 9, 11, 12, 13, 14, 15, 15, 16], issues.join("\n"));
  assert.match(issues[0]!, /default_subnet_size: must be an integer 8\.\.30, got 31/);
  assert.match(issues[1]!, /host bits set/);
  assert.match(issues[2]!, /must be one of auto, server, proxy, off/);
  assert.match(issues[4]!, /start is after end/);
  assert.match(issues[6]!, /exactly one of mac or node/);
});

Deno.test("mesh.yaml: http.status_page is on, off or token (YAML 1.2: `off` is a string)", () => {
  assert.equal(ok("http: { status_page: off }\n").http.statusPage, "off");
  const issues = bad("http:\n  status_page: yes please\n");
  assert.equal(issues.length, 1);
  assert.match(issues[0]!, /^\/h\/mesh\.yaml:2: .*must be one of on, off, token/);
});

Deno.test("mesh.yaml: a syntax error names its line", () => {
  assert.deepEqual(bad("tftp:\n  port: 69\n  retries:\n    - 1\n    x: 2\n"), [
    "/h/mesh.yaml:5: All mapping items must start at the same column",
  ]);
  assert.match(bad("tftp:\n\tport: 69\n")[0]!, /^\/h\/mesh\.yaml:2: Tabs/);
  const dup = bad("tftp: {}\ntftp: {}\n");
  assert.match(dup[0]!, /^\/h\/mesh\.yaml:2: .*[Mm]ap keys must be unique/);
});

Deno.test("mesh.yaml: top level must be a mapping", () => {
  assert.deepEqual(bad("- a\n- b\n"), ["/h/mesh.yaml:1: top level must be a mapping"]);
});

Deno.test("host0.conf: subnet_pool and default_subnet_size are read, other keys ignored", () => {
  const r = parseHost0Conf(
    '# legacy\nsubnet_pool="10.11.0.0/16" "192.168.0.0/23"\ndefault_subnet_size="25"\nscan_timeout="5"\nnot an assignment\n',
    "/h/host0.conf",
  );
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.value.subnetPool!.value.map(formatCidr), ["10.11.0.0/16", "192.168.0.0/23"]);
  assert.equal(r.value.subnetPool!.line, 2);
  assert.equal(r.value.defaultSubnetSize!.value, 25);
});

Deno.test("host0.conf: unquoted and array forms are accepted", () => {
  const a = parseHost0Conf("subnet_pool=10.1.0.0/16\n", "f");
  const b = parseHost0Conf("subnet_pool=('10.1.0.0/16' '10.2.0.0/16')\n", "f");
  assert.deepEqual(a.value.subnetPool!.value.map(formatCidr), ["10.1.0.0/16"]);
  assert.deepEqual(b.value.subnetPool!.value.map(formatCidr), ["10.1.0.0/16", "10.2.0.0/16"]);
});

Deno.test("host0.conf: bad values are reported at their line", () => {
  const r = parseHost0Conf(
    'x=1\nsubnet_pool="10.11.0.0/33"\ndefault_subnet_size="7"\n',
    "/h/host0.conf",
  );
  assert.deepEqual(r.issues.map((i) => i.line), [2, 3]);
  const overlap = parseHost0Conf('subnet_pool="10.0.0.0/8 10.1.0.0/16"\n', "f");
  assert.match(overlap.issues[0]!.message, /overlaps/);
});

Deno.test("host0.conf keys fill in, mesh.yaml wins", () => {
  const legacy =
    parseHost0Conf('subnet_pool="192.168.0.0/23"\ndefault_subnet_size="25"\n', "f").value;
  const fromLegacy = ok(null, legacy);
  assert.deepEqual(fromLegacy.subnetPool.map(formatCidr), ["192.168.0.0/23"]);
  assert.equal(fromLegacy.defaultSubnetSize, 25);
  const both = ok("subnet_pool: [10.9.0.0/16]\n", legacy);
  assert.deepEqual(both.subnetPool.map(formatCidr), ["10.9.0.0/16"]);
  assert.equal(both.defaultSubnetSize, 25);
});

Deno.test("mesh.yaml: the scan and the proxy/guard keys are read", () => {
  const s = ok(`
scan:
  probes: 5
  interval_ms: 20
  settle_ms: 400
  subnet_hold_hours: 2
  dhcp_probe_ms: 0
  reprobe_minutes: 0
dhcp:
  rogue_action: warn
  proxy_bios: port4011
  proxy_uefi: option43
`);
  assert.deepEqual(s.scan, {
    probes: 5,
    intervalMs: 20,
    settleMs: 400,
    subnetHoldMs: 2 * 3_600_000,
    dhcpProbeMs: 0,
    reprobeMs: 0,
  });
  assert.deepEqual(
    [s.dhcp.rogueAction, s.dhcp.proxyBios, s.dhcp.proxyUefi],
    ["warn", "port4011", "option43"],
  );
});
