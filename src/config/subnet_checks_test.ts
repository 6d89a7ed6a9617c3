import assert from "node:assert/strict";
import { parseCidr, parseIpv4 } from "../wire/mod.ts";
import { formatIssue } from "../errors.ts";
import { parseMeshYaml } from "./parse_mesh_yaml.ts";
import { checkServedSubnets, formatProblem, type ServedSubnet } from "./subnet_checks.ts";
import type { Settings } from "./types.ts";

const FILE = "/h/mesh.yaml";

function issues(text: string): string[] {
  return parseMeshYaml(text, FILE, "/h").issues.map(formatIssue);
}

function parsed(text: string): Settings {
  const r = parseMeshYaml(text, FILE, "/h");
  assert.deepEqual(r.issues.map(formatIssue), []);
  return r.value;
}

function served(name: string, subnet: string, serverIp?: string): ServedSubnet {
  return {
    name,
    subnet: parseCidr(subnet),
    ...(serverIp !== undefined ? { serverIp: parseIpv4(serverIp) } : {}),
  };
}

Deno.test("subnets: a router outside the interface's subnet is named at its line", () => {
  assert.deepEqual(
    issues(`interfaces:
  eth0:
    subnet: 10.0.0.0/24
    router: 10.9.0.1
`),
    [`${FILE}:4: interfaces.eth0.router 10.9.0.1 is outside 10.0.0.0/24`],
  );
  // without a pinned subnet, the network of the pinned address is the subnet
  assert.deepEqual(
    issues(`interfaces:
  eth0:
    address: 10.0.0.1/24
    router: 10.0.1.1
`),
    [`${FILE}:4: interfaces.eth0.router 10.0.1.1 is outside 10.0.0.0/24`],
  );
});

Deno.test("subnets: an address outside the pinned subnet was already reported", () => {
  assert.deepEqual(
    issues(`interfaces:
  eth0:
    address: 10.0.1.1/24
    subnet: 10.0.0.0/24
`),
    [`${FILE}:3: interfaces.eth0.address is outside subnet 10.0.0.0/24`],
  );
});

Deno.test("subnets: router, address and DNS may not be a network or broadcast address", () => {
  assert.deepEqual(
    issues(`interfaces:
  eth0:
    address: 10.0.0.0/24
    router: 10.0.0.255
    dns:
      - 10.0.0.2
      - 10.0.0.0
`),
    [
      `${FILE}:3: interfaces.eth0.address 10.0.0.0 is the network address of 10.0.0.0/24`,
      `${FILE}:4: interfaces.eth0.router 10.0.0.255 is the broadcast address of 10.0.0.0/24`,
      `${FILE}:7: interfaces.eth0.dns 10.0.0.0 is the network address of 10.0.0.0/24`,
    ],
  );
  // both addresses of a /31 are hosts (RFC 3021)
  parsed("interfaces:\n  eth0: { subnet: 10.0.0.0/31, router: 10.0.0.1, dns: [10.0.0.0] }\n");
});

Deno.test("subnets: a DNS server outside the subnet needs a router", () => {
  assert.deepEqual(
    issues(`interfaces:
  eth0:
    subnet: 10.0.0.0/24
    dns: [10.0.0.53, 1.1.1.1]
`),
    [
      `${FILE}:4: interfaces.eth0.dns 1.1.1.1 is outside 10.0.0.0/24 of interfaces.eth0, ` +
      "which has no router: its clients have no route to it",
    ],
  );
  // with a router inside the subnet, an outside DNS server is normal
  parsed("interfaces:\n  eth0: { subnet: 10.0.0.0/24, router: 10.0.0.1, dns: [1.1.1.1] }\n");
});

Deno.test("subnets: dhcp.dns is checked on each served pinned interface without router or dns", () => {
  const text = `interfaces:
  eth0: { subnet: 10.0.0.0/24 }
  eth1: { subnet: 10.1.0.0/24, router: 10.1.0.1 }
  eth2: { subnet: 10.2.0.0/24, dns: [10.2.0.53] }
  eth3: { subnet: 10.3.0.0/24, mode: proxy }
  eth4: { subnet: 10.4.0.0/24, mode: off }
  eth5: { mode: server }
dhcp:
  dns:
    - 10.1.0.255
    - 8.8.8.8
`;
  assert.deepEqual(issues(text), [
    `${FILE}:10: dhcp.dns 10.1.0.255 is outside 10.0.0.0/24 of interfaces.eth0, ` +
    "which has no router: its clients have no route to it",
    `${FILE}:10: dhcp.dns 10.1.0.255 is the broadcast address of 10.1.0.0/24 of interfaces.eth1`,
    `${FILE}:11: dhcp.dns 8.8.8.8 is outside 10.0.0.0/24 of interfaces.eth0, ` +
    "which has no router: its clients have no route to it",
  ]);
});

Deno.test("subnets: a reservation must lie in a pinned subnet or subnet_pool", () => {
  const head = `subnet_pool: [10.11.0.0/16]
interfaces:
  eth0: { address: 10.0.0.1/24 }
  eth1: { subnet: 10.5.0.0/24, mode: off }
dhcp:
  reservations:
`;
  assert.deepEqual(
    issues(`${head}    - { mac: "52:54:00:00:00:01", ip: 10.0.0.5 }
    - { node: 0a1b2c3d, ip: 10.11.7.9 }
    - mac: "52:54:00:00:00:02"
      ip: 192.168.1.5
    - { mac: "52:54:00:00:00:03", ip: 10.5.0.5 }
`),
    [
      `${FILE}:10: reservation 52:54:00:00:00:02 ip 192.168.1.5 is outside every subnet mesh ` +
      "serves (10.0.0.0/24 of interfaces.eth0, subnet_pool 10.11.0.0/16)",
      `${FILE}:11: reservation 52:54:00:00:00:03 ip 10.5.0.5 is in 10.5.0.0/24 of ` +
      "interfaces.eth1, where mode off hands out no addresses",
    ],
  );
});

Deno.test("subnets: a reservation on a network, broadcast or own address, or twice", () => {
  assert.deepEqual(
    issues(`interfaces:
  eth0: { address: 10.0.0.1/24, subnet: 10.0.0.0/24 }
dhcp:
  reservations:
    - { mac: "52:54:00:00:00:01", ip: 10.0.0.0 }
    - { mac: "52:54:00:00:00:02", ip: 10.0.0.255 }
    - { node: 0a1b2c3d, ip: 10.0.0.1 }
    - { mac: "52:54:00:00:00:04", ip: 10.0.0.7 }
    - { mac: "52:54:00:00:00:05", ip: 10.0.0.7 }
    - { mac: "52:54:00:00:00:04", ip: 10.0.0.8 }
`),
    [
      `${FILE}:5: reservation 52:54:00:00:00:01 ip 10.0.0.0 is the network address of 10.0.0.0/24`,
      `${FILE}:6: reservation 52:54:00:00:00:02 ip 10.0.0.255 is the broadcast address of ` +
      "10.0.0.0/24",
      `${FILE}:7: reservation node 0a1b2c3d ip 10.0.0.1 is the central node's own address on ` +
      "interfaces.eth0",
      `${FILE}:9: reservation 52:54:00:00:00:05 ip 10.0.0.7: ip 10.0.0.7 is already in the ` +
      "reservation at line 8",
      `${FILE}:10: reservation 52:54:00:00:00:04 ip 10.0.0.8: mac 52:54:00:00:00:04 is already ` +
      "in the reservation at line 8",
    ],
  );
});

Deno.test("subnets: a subnet that failed to parse does not make reservations look stray", () => {
  assert.deepEqual(
    issues(`subnet_pool: [10.11.0.1/16]
dhcp:
  reservations: [{ mac: "52:54:00:00:00:01", ip: 10.11.0.5 }]
`),
    [
      `${FILE}:1: subnet_pool[0]: Cannot parse CIDR "10.11.0.1/16": host bits set ` +
      "(network is 10.11.0.0/16)",
    ],
  );
});

Deno.test("subnets: valid settings stay clean", () => {
  parsed(`subnet_pool: [10.11.0.0/16]
interfaces:
  eth0:
    address: 10.0.0.1/24
    router: 10.0.0.254
    dns: [10.0.0.1, 1.1.1.1]
  eth1: { mode: auto }
dhcp:
  dns: [9.9.9.9]
  reservations:
    - { mac: "52:54:00:00:00:01", ip: 10.0.0.5 }
    - { node: 0a1b2c3d, ip: 10.11.3.4 }
`);
});

Deno.test("served: reservations in no served subnet, or on its edges or server address", () => {
  const s = parsed(`subnet_pool: [10.11.0.0/16]
dhcp:
  reservations:
    - { mac: "52:54:00:00:00:01", ip: 10.11.0.5 }
    - { mac: "52:54:00:00:00:02", ip: 10.11.9.5 }
    - { mac: "52:54:00:00:00:03", ip: 10.11.0.1 }
    - { mac: "52:54:00:00:00:04", ip: 10.11.1.255 }
`);
  const plan = [served("eth0", "10.11.0.0/24", "10.11.0.1"), served("eth1", "10.11.1.0/24")];
  assert.deepEqual(checkServedSubnets(s, plan).map(formatProblem), [
    `${FILE}:5: reservation 52:54:00:00:00:02 ip 10.11.9.5 is outside every subnet mesh serves ` +
    "(10.11.0.0/24 of eth0, 10.11.1.0/24 of eth1)",
    `${FILE}:6: reservation 52:54:00:00:00:03 ip 10.11.0.1 is the central node's own address on ` +
    "eth0",
    `${FILE}:7: reservation 52:54:00:00:00:04 ip 10.11.1.255 is the broadcast address of ` +
    "10.11.1.0/24",
  ]);
});

Deno.test("served: routers and DNS servers of interfaces without a pinned subnet", () => {
  const s = parsed(`interfaces:
  eth0:
    router: 10.9.0.1
  eth1:
    dns: [1.1.1.1]
  eth2:
    router: 10.13.0.1
dhcp:
  dns: [8.8.8.8]
`);
  const plan = [
    served("eth0", "10.11.0.0/24"),
    served("eth1", "10.12.0.0/24"),
    served("eth2", "10.13.0.0/24"),
    served("seg-ab12", "10.14.0.0/24"),
  ];
  assert.deepEqual(checkServedSubnets(s, plan).map(formatProblem), [
    `${FILE}:3: interfaces.eth0.router 10.9.0.1 is outside 10.11.0.0/24`,
    `${FILE}:5: interfaces.eth1.dns 1.1.1.1 is outside 10.12.0.0/24 of interfaces.eth1, ` +
    "which has no router: its clients have no route to it",
    `${FILE}:9: dhcp.dns 8.8.8.8 is outside 10.14.0.0/24 of seg-ab12, ` +
    "which has no router: its clients have no route to it",
  ]);
});

Deno.test("served: settings built in code give problems without a location", () => {
  const s = parsed("");
  const settings = {
    ...s,
    dhcp: { ...s.dhcp, reservations: [{ mac: "52:54:00:00:00:01", ip: parseIpv4("10.0.0.0") }] },
  };
  const problems = checkServedSubnets(settings, [served("eth0", "10.0.0.0/24")]);
  assert.deepEqual(problems, [
    { message: "reservation 52:54:00:00:00:01 ip 10.0.0.0 is the network address of 10.0.0.0/24" },
  ]);
  assert.equal(formatProblem(problems[0]!), problems[0]!.message);
  assert.deepEqual(checkServedSubnets(s, [served("eth0", "10.0.0.0/24", "10.0.0.1")]), []);
});
