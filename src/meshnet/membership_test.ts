import assert from "node:assert/strict";
import { DEFAULT_NETWORK, type Machine, type Network } from "../config/mod.ts";
import { meshAddress } from "./address.ts";
import {
  fdbPlan,
  includes,
  machineFor,
  memberList,
  meshesOf,
  renderMemberList,
} from "./membership.ts";

function machine(folder: string, id: string, groups: string[] = [], skip = false): Machine {
  return { folder, dir: `/h/machines/${folder}`, id, manifest: [], groups, packages: [], skip };
}

const MACHINES = [
  machine("default", "default", ["base"]),
  machine("storage-1", "10eff964", ["storage"]),
  machine("compute-1", "5e2d9a41", ["compute"]),
  machine("parked", "0badc0de", ["storage"], true),
];

function net(name: string, nodes: string[] | null): Network {
  return {
    file: `/h/network/${name}.conf`,
    name,
    prefix: "fd42::/64",
    vni: 7,
    port: 8000,
    mtu: 1450,
    nodes,
  };
}

Deno.test("membership: all, by id, by folder, by group; folderless nodes are the default machine", () => {
  assert.equal(machineFor(MACHINES, "10eff964")?.folder, "storage-1");
  assert.equal(machineFor(MACHINES, "0badc0de")?.folder, "default"); // SKIP: default overlay
  assert.equal(machineFor(MACHINES, "feedf00d")?.folder, "default");
  const at = (n: Network, id: string) => includes(n, machineFor(MACHINES, id), id);
  assert.ok(at(net("all", null), "feedf00d"));
  const storage = net("s", ["group:storage"]);
  assert.ok(at(storage, "10eff964") && !at(storage, "5e2d9a41") && !at(storage, "0badc0de"));
  assert.ok(at(net("f", ["compute-1"]), "5e2d9a41"));
  assert.ok(at(net("i", ["feedf00d"]), "feedf00d") && !at(net("i", ["feedf00d"]), "feedf00e"));
  assert.ok(at(net("d", ["group:base"]), "feedf00d"));
});

Deno.test("meshes: the default mesh unless a file named default replaces it", () => {
  const manage = net("manage", null);
  assert.deepEqual(meshesOf([manage]).map((n) => n.name), ["default", "manage"]);
  assert.equal(meshesOf([manage])[0], DEFAULT_NETWORK);
  const mine = net("default", ["group:storage"]);
  assert.deepEqual(meshesOf([mine, manage]), [mine, manage]);
  assert.match(DEFAULT_NETWORK.prefix, /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
});

Deno.test("member list: members by id with their addresses; first lease per id wins", () => {
  const n = net("s", ["group:storage", "feedf00d"]);
  const list = memberList(n, MACHINES, [
    { id: "feedf00d", underlay: "10.11.0.7" },
    { id: "10eff964", underlay: "10.11.0.5" },
    { id: "5e2d9a41", underlay: "10.11.0.6" },
    { id: "10eff964", underlay: "10.11.0.99" },
  ]);
  assert.deepEqual(list, {
    mesh: "s",
    vni: 7,
    prefix: "fd42::/64",
    central: "fd42::1",
    members: [
      { id: "10eff964", underlay: "10.11.0.5", address: meshAddress("fd42::/64", "s", "10eff964") },
      { id: "feedf00d", underlay: "10.11.0.7", address: meshAddress("fd42::/64", "s", "feedf00d") },
    ],
  });
  const text = renderMemberList(list);
  assert.deepEqual(JSON.parse(text), list);
  assert.equal(text.split("\n").filter((l) => l.includes('"underlay"')).length, 2);
  assert.deepEqual(JSON.parse(renderMemberList({ ...list, members: [] })).members, []);
});

Deno.test("fdb plan: add what is missing, remove what is no longer wanted", () => {
  assert.deepEqual(fdbPlan(["10.0.0.2", "10.0.0.3", "10.0.0.3"], ["10.0.0.3", "10.0.0.9"]), {
    add: ["10.0.0.2"],
    remove: ["10.0.0.9"],
  });
  assert.deepEqual(fdbPlan([], []), { add: [], remove: [] });
});
