/**
 * rtnetlink against the real kernel, inside a network namespace the test
 * builds (createLab: deleted afterwards, also on failure). A netlink socket
 * sees the namespace of its process, so each step runs the fixture in a
 * child `deno` started through `ip netns exec`; iproute2 (`ip -j`) is the
 * judge of what the fixture reports. The host's interfaces are never touched.
 */
import assert from "node:assert/strict";
import { createLab, type Lab, labSkipReason } from "../../tests/lib/netns.ts";
import { TextLineStream } from "../../tests/lib/lines.ts";
import type { LinkEvent, LinkInfo } from "./mod.ts";

const FIXTURE = new URL("./_netlink_test_fixture.ts", import.meta.url).pathname;
const skip = labSkipReason();
if (skip !== null) console.log(`netlink_socket_test: skipped: ${skip}`);

interface Listing {
  links: LinkInfo[];
  addresses: { ifindex: number; ip: number; prefix: number; text: string }[];
  interfaces: { name: string; carrier: boolean; ipv4: { prefix: number }[] }[];
}

async function must(lab: Lab, cmd: string[]): Promise<string> {
  const r = await lab.exec("a", cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Runs the fixture's `ops` in the lab namespace and returns its results. */
async function ops(lab: Lab, ...args: string[]): Promise<unknown[]> {
  const r = await lab.exec("a", [Deno.execPath(), "run", "-A", FIXTURE, "ops", ...args], {
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function list(lab: Lab): Promise<Listing & { by: (name: string) => LinkInfo }> {
  const l = (await ops(lab, "list"))[0] as Listing;
  const by = (name: string) => {
    const found = l.links.find((x) => x.name === name);
    assert.ok(found, `no link ${name} in ${l.links.map((x) => x.name)}`);
    return found;
  };
  return { ...l, by };
}

/** Waits (bounded) until sysfs says the kernel's link watch has settled. */
async function operstateSettles(lab: Lab, link: string, want: string): Promise<void> {
  const until = Date.now() + 5000;
  for (;;) {
    const s = (await must(lab, ["cat", `/sys/class/net/${link}/operstate`])).trim();
    if (s === want) return;
    assert.ok(Date.now() < until, `${link} operstate stays ${s}, want ${want}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads JSON lines until `done` holds for what was read, or `ms` pass. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  ms: number,
  done: (seen: LinkEvent[]) => boolean,
): Promise<LinkEvent[]> {
  const seen: LinkEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<null>((r) => timer = setTimeout(() => r(null), ms));
  try {
    while (!done(seen)) {
      const next = await Promise.race([reader.read(), expired]);
      if (next === null || next.done) break;
      seen.push(JSON.parse(next.value));
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

Deno.test({
  name: "netlink (root, netns): links, kinds, carrier, MTU, addresses and the link monitor",
  ignore: skip !== null,
  async fn(t) {
    await using lab = await createLab("nl", [{ name: "a" }]);
    for (
      const cmd of [
        "link add va mtu 1400 type veth peer name vb",
        "link add br0 type bridge",
        "link set vb master br0",
        "link add vx0 type vxlan id 42 dstport 4789",
        "link set va up",
        "link set vb up",
        "link set br0 up",
      ]
    ) await must(lab, ["ip", ...cmd.split(" ")]);
    await operstateSettles(lab, "va", "up");

    await t.step("listLinks agrees with ip -j link: names, indexes, MACs, MTU, kinds", async () => {
      const l = await list(lab);
      const ipLinks = JSON.parse(await must(lab, ["ip", "-j", "-d", "link", "show"])) as {
        ifindex: number;
        ifname: string;
        address?: string;
        mtu: number;
        linkinfo?: { info_kind?: string };
      }[];
      assert.deepEqual(
        l.links.map((x) => [x.ifindex, x.name, x.mac, x.mtu, x.kind]).sort(),
        ipLinks.map((x) => [x.ifindex, x.ifname, x.address, x.mtu, x.linkinfo?.info_kind ?? null])
          .sort(),
      );
      const va = l.by("va");
      assert.deepEqual([va.up, va.carrier, va.operstate, va.ethernet, va.loopback], [
        true,
        true,
        "up",
        true,
        false,
      ]);
      assert.equal(va.mtu, 1400);
      assert.equal(va.speedMbps, 10000); // veth reports 10G in sysfs
      assert.equal(l.by("vb").master, l.by("br0").ifindex);
      assert.equal(l.by("br0").kind, "bridge");
      const vx = l.by("vx0");
      assert.deepEqual([vx.kind, vx.up, vx.carrier, vx.operstate, vx.speedMbps], [
        "vxlan",
        false,
        false,
        "down",
        null,
      ]);
      const lo = l.by("lo");
      assert.deepEqual([lo.loopback, lo.ethernet, lo.kind], [true, false, null]);
      assert.equal(l.by("eth0").kind, "veth");
    });

    await t.step(
      "carrier follows the veth peer: false while it is down, true again when up",
      async () => {
        await must(lab, ["ip", "link", "set", "vb", "down"]);
        await operstateSettles(lab, "va", "lowerlayerdown");
        const down = (await list(lab)).by("va");
        assert.deepEqual([down.up, down.carrier, down.operstate], [true, false, "lowerlayerdown"]);
        await must(lab, ["ip", "link", "set", "vb", "up"]);
        await operstateSettles(lab, "va", "up");
        const up = await list(lab);
        assert.deepEqual([up.by("va").carrier, up.by("va").operstate], [true, "up"]);
        assert.equal(up.interfaces.find((i) => i.name === "va")?.carrier, true);
      },
    );

    await t.step("addAddress / deleteAddress: added, exists, deleted, absent", async () => {
      const r = await ops(
        lab,
        ...["add", "va", "10.99.0.1/24", "add", "va", "10.99.0.1/24", "list"],
        ...["del", "va", "10.99.0.1/24", "del", "va", "10.99.0.1/24"],
        ...["del", "99999", "10.99.0.1/24", "add", "99999", "10.99.0.1/24"],
      );
      assert.deepEqual(r.slice(0, 2), ["added", "exists"]);
      const l = r[2] as Listing;
      const va = l.links.find((x) => x.name === "va")!;
      assert.ok(
        l.addresses.some((a) => a.ifindex === va.ifindex && a.text === "10.99.0.1/24"),
        JSON.stringify(l.addresses),
      );
      assert.deepEqual(l.interfaces.find((i) => i.name === "va")?.ipv4.map((a) => a.prefix), [24]);
      assert.deepEqual(r.slice(3, 6), ["deleted", "absent", "absent"]);
      const refused = r[6] as { error: string; errno: number; message: string };
      assert.deepEqual([refused.error, refused.errno], ["NetlinkError", 19]); // ENODEV
      assert.match(refused.message, /^RTM_NEWADDR failed: errno 19/);
      assert.equal((await must(lab, ["ip", "-4", "-j", "addr", "show", "dev", "va"])).trim(), "[]");
    });

    await t.step("the broadcast address is set as with `brd +`", async () => {
      assert.deepEqual(await ops(lab, "add", "va", "10.98.0.9/22", "add", "va", "10.97.0.1/31"), [
        "added",
        "added",
      ]);
      const got = JSON.parse(await must(lab, ["ip", "-4", "-j", "addr", "show", "dev", "va"]));
      const info = got[0].addr_info as { local: string; prefixlen: number; broadcast?: string }[];
      assert.deepEqual(info.map((a) => [a.local, a.prefixlen, a.broadcast ?? null]), [
        ["10.98.0.9", 22, "10.98.3.255"],
        ["10.97.0.1", 31, null],
      ]);
    });

    await t.step(
      "LinkMonitor reports a link going down and up, addresses, a link removed",
      async () => {
        const child = lab.spawn("a", [Deno.execPath(), "run", "-A", FIXTURE, "monitor", "20000"], {
          stdout: "piped",
        });
        const reader = child.stdout.pipeThrough(new TextDecoderStream())
          .pipeThrough(new TextLineStream()).getReader();
        try {
          assert.equal((await reader.read()).value, "ready");
          for (
            const cmd of [
              "link set va down",
              "link set va up",
              "addr add 10.96.0.1/24 dev va",
              "addr del 10.96.0.1/24 dev va",
              "link add tmp0 type vxlan id 7 dstport 4790",
              "link del tmp0",
            ]
          ) await must(lab, ["ip", ...cmd.split(" ")]);
          const isLink = (
            e: LinkEvent,
            name: string,
            f: (l: LinkInfo, removed: boolean) => boolean,
          ) => e.type === "link" && e.link.name === name && f(e.link, e.removed);
          const isAddr = (e: LinkEvent, removed: boolean) =>
            e.type === "address" && e.prefix === 24 && e.ip === 0x0a600001 && e.removed === removed;
          const wanted = [
            (e: LinkEvent) => isLink(e, "va", (l, r) => !l.up && !r),
            (e: LinkEvent) => isLink(e, "va", (l, r) => l.up && !r),
            (e: LinkEvent) => isAddr(e, false),
            (e: LinkEvent) => isAddr(e, true),
            (e: LinkEvent) => isLink(e, "tmp0", (l, r) => l.kind === "vxlan" && !r),
            (e: LinkEvent) => isLink(e, "tmp0", (_, r) => r),
          ];
          // In order: each wanted event comes after the one before it.
          const inOrder = (seen: LinkEvent[]) => {
            let at = 0;
            for (const w of wanted) {
              const i = seen.findIndex((e, k) => k >= at && w(e));
              if (i < 0) return false;
              at = i + 1;
            }
            return true;
          };
          const seen = await readUntil(reader, 5000, inOrder);
          assert.ok(inOrder(seen), JSON.stringify(seen, null, 1));
          assert.ok(!seen.some((e) => e.type === "overflow"));
        } finally {
          await reader.cancel();
          child.kill("SIGTERM");
          await child.status;
        }
      },
    );

    await t.step("LinkMonitor reports an overflow (ENOBUFS) and keeps going", async () => {
      const r = await lab.exec("a", [
        Deno.execPath(),
        "run",
        "-A",
        FIXTURE,
        "overflow",
        "va",
        "3000",
      ], {
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { overflowed: true, after: true });
    });
  },
});
