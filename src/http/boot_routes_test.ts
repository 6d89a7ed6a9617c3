import assert from "node:assert/strict";
import { nodeIdFor, renderBootScript } from "../boot/mod.ts";
import { makeFixture, NODE_ID, NODE_IP, NODE_MAC, NODE_UUID, OTHER_IP } from "./_app_fixture.ts";

Deno.test("boot.ipxe: known node gets its machine's script, and is recorded", async () => {
  await using f = await makeFixture();
  const res = await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(
    await res.text(),
    [
      "#!ipxe",
      `# mesh node ${NODE_ID} machine web-01`,
      "kernel http://10.11.0.1/boot/vmlinuz-lts initrd=initramfs-lts ip=dhcp BOOTIF=01-${mac:hexhyp} " +
      "alpine_repo=http://10.11.0.1/alpine/v3.20/main modloop=http://10.11.0.1/boot/modloop-lts " +
      `apkovl=http://10.11.0.1/apkovl/${NODE_ID}.tar.gz modules=loop,squashfs quiet console=ttyS0 console=tty0`,
      "initrd http://10.11.0.1/boot/initramfs-lts",
      "boot",
      "",
    ].join("\n"),
  );
  const node = f.registry.get(NODE_ID);
  assert.ok(node);
  assert.equal(node.stage, "script");
  assert.equal(node.mac, NODE_MAC);
  assert.equal(node.uuid, NODE_UUID);
  assert.equal(node.ip, NODE_IP);
  assert.equal(node.machine, "web-01");
});

Deno.test("boot.ipxe: path forms give the same script as the query form", async () => {
  await using f = await makeFixture();
  const q = await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  assert.equal(await (await f.req(`/boot.ipxe/${NODE_MAC}/${NODE_UUID}`)).text(), q);
  // a MAC that identified as a node stays that node when it sends no UUID
  assert.equal(await (await f.req(`/boot.ipxe/${NODE_MAC.replaceAll(":", "-")}`)).text(), q);
  // a MAC that never sent one is known by the MAC rule
  const mac = "52:54:00:12:34:57";
  f.leases.grant("10.11.1.21", mac);
  const macOnly =
    await (await f.req(`/boot.ipxe/${mac.replaceAll(":", "-")}`, undefined, "10.11.1.21"))
      .text();
  const idByMac = nodeIdFor({ mac }).id;
  assert.ok(macOnly.includes(`apkovl=http://10.11.0.1/apkovl/${idByMac}.tar.gz`));
});

Deno.test("boot.ipxe: unknown node boots the default machine with its own id", async () => {
  await using f = await makeFixture();
  const mac = "52:54:00:aa:bb:cc";
  const id = nodeIdFor({ mac }).id;
  f.leases.grant("10.11.1.30", mac);
  const text = await (await f.req(
    `/boot.ipxe?mac=${mac}&uuid=00000000-0000-0000-0000-000000000000`,
    undefined,
    "10.11.1.30",
  )).text();
  assert.equal(
    text,
    renderBootScript({
      nodeId: id,
      machine: "default",
      base: "http://10.11.0.1",
      kernelPath: "/boot/vmlinuz-lts",
      initrdPath: "/boot/initramfs-lts",
      modloopPath: "/boot/modloop-lts",
      repoPath: "/alpine/v3.20/main",
      extraCmdline: "console=tty0",
    }),
  );
  assert.ok(text.includes(`# mesh node ${id} machine default`));
  assert.equal(f.registry.get(id)?.stage, "script");
});

Deno.test("boot.ipxe: without mac/uuid the lease of the asking address identifies the node", async () => {
  await using f = await makeFixture();
  const text = await (await f.req("/boot.ipxe?mac=&uuid=", undefined, NODE_IP)).text();
  assert.ok(
    text.includes(`apkovl=http://10.11.0.1/apkovl/${nodeIdFor({ mac: NODE_MAC }).id}.tar.gz`),
  );
  const anon = await (await f.req("/boot.ipxe", undefined, OTHER_IP)).text();
  assert.ok(anon.includes("apkovl=http://10.11.0.1/apkovl/{MAC}.tar.gz"));
  assert.ok(anon.includes("# mesh node unknown machine default"));
});

Deno.test("boot.ipxe: hostile query values never reach the script", async () => {
  await using f = await makeFixture();
  const evil = encodeURIComponent("52:54:00:12:34:56\nchain http://evil/${x}");
  const res = await f.req(
    `/boot.ipxe?mac=${evil}&uuid=${encodeURIComponent("x\nshell")}`,
    undefined,
    OTHER_IP,
  );
  const text = await res.text();
  assert.equal(res.status, 200);
  assert.ok(!text.includes("evil"));
  assert.ok(!text.includes("shell"));
  assert.deepEqual(text.split("\n").map((l) => l.split(" ")[0]), [
    "#!ipxe",
    "#",
    "kernel",
    "initrd",
    "boot",
    "",
  ]);
});

Deno.test("boot.ipxe: 2000 distinct nodes with 5000 machines known each get a script and an entry", async () => {
  await using f = await makeFixture();
  for (let i = 0; i < 5000; i++) {
    f.catalog.machines.set(i.toString(16).padStart(8, "0"), { folder: `m${i}` });
  }
  // 2000 script requests from distinct nodes; bounded work, just checks they all succeed
  for (let i = 0; i < 2000; i++) {
    const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
      (i & 255).toString(16).padStart(2, "0")
    }`;
    const ip = `10.12.${i >> 8}.${i & 255}`;
    f.leases.grant(ip, mac);
    const res = await f.req(`/boot.ipxe?mac=${mac}`, undefined, ip);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  }
  assert.equal(f.registry.list().length, 2000);
});

Deno.test("boot.ipxe: with baseFromHost the links use the address the node asked (several segments)", async () => {
  await using f = await makeFixture({ baseFromHost: true });
  const url = `/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`;
  const viaB = await (await f.req(url, { headers: { host: "10.22.0.1" } })).text();
  assert.match(viaB, /^kernel http:\/\/10\.22\.0\.1\/boot\/vmlinuz-lts /m);
  assert.match(viaB, /apkovl=http:\/\/10\.22\.0\.1\/apkovl\//);
  assert.doesNotMatch(viaB, /10\.11\.0\.1/);
  const withPort = await (await f.req(url, { headers: { host: "10.22.0.1:8080" } })).text();
  assert.match(withPort, /^initrd http:\/\/10\.22\.0\.1:8080\/boot\/initramfs-lts$/m);
  // Anything that is not a plain host[:port] falls back to the configured base.
  for (const host of ["evil.example/x", "a b", "10.0.0.1:port", "[::1]"]) {
    const text = await (await f.req(url, { headers: { host } })).text();
    assert.match(text, /^kernel http:\/\/10\.11\.0\.1\/boot\/vmlinuz-lts /m, host);
  }
  // Without the option the configured base always wins.
  await using g = await makeFixture();
  const fixed = await (await g.req(url, { headers: { host: "10.22.0.1" } })).text();
  assert.match(fixed, /^kernel http:\/\/10\.11\.0\.1\//m);
});
