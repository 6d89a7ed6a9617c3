/**
 * The advertiser's schedule (pure, always run) and, as root in a lab, what a
 * real Linux host makes of our RAs: the server namespace runs the advertiser
 * (_advertiser_test_fixture.ts), a client namespace with accept_ra=1 and
 * forwarding off solicits (from a raw socket, and with rdisc6 when
 * installed) and shows what its kernel configured.
 */
import assert from "node:assert/strict";
import { createLab, hasCommand, type Lab, labSkipReason } from "../../tests/lib/netns.ts";
import { TextLineStream } from "../../tests/lib/lines.ts";
import { macToBytes } from "../wire/mod.ts";
import { RA_DEFAULTS, RaSchedule, type RaTimings } from "./advertiser.ts";
import { formatIpv6, linkLocalFromMac, parseIpv6 } from "./packet.ts";

const FIXTURE = new URL("./_advertiser_test_fixture.ts", import.meta.url).pathname;

const TIMINGS: RaTimings = {
  minMs: RA_DEFAULTS.intervalMs.min,
  maxMs: RA_DEFAULTS.intervalMs.max,
  initialIntervalMs: RA_DEFAULTS.initialIntervalMs,
  initialCount: RA_DEFAULTS.initialCount,
  minDelayMs: RA_DEFAULTS.minDelayMs,
  unicastBurst: RA_DEFAULTS.unicastBurst,
  unicastPerSecond: RA_DEFAULTS.unicastPerSecond,
};

Deno.test("schedule: first RA at once, two more at most 16 s apart, then 200..600 s", () => {
  for (const r of [0, 0.5, 0.999]) {
    const s = new RaSchedule(TIMINGS, () => r, 1000);
    let now = 1000;
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      assert.ok(s.due(now), `due at ${now}`);
      s.sentMulticast(now);
      assert.ok(!s.due(now));
      gaps.push(s.deadline - now);
      now = s.deadline;
    }
    assert.deepEqual(gaps.slice(0, 2), [16_000, 16_000]);
    for (const g of gaps.slice(2)) assert.equal(g, 200_000 + r * 400_000);
  }
});

Deno.test("schedule: an RS gets a multicast RA at once, at most one per 3 s", () => {
  const s = new RaSchedule(TIMINGS, () => 0.5, 0);
  s.sentMulticast(0); // the first unsolicited one
  // inside the window: an RS from an address is answered by unicast, one from :: waits
  assert.equal(s.solicited(100, false), "unicast");
  assert.equal(s.solicited(200, true), "later");
  assert.equal(s.deadline, 3000);
  assert.ok(!s.due(2999) && s.due(3000));
  s.sentMulticast(3000);
  assert.equal(s.pending, Infinity);
  assert.equal(s.deadline, 16_000, "the unsolicited schedule stands");
  // past the window: multicast at once
  assert.equal(s.solicited(6000, true), "multicast");
  s.sentMulticast(6000);
  // a flood of RSs from addresses: 10 unicast, then they wait for the window
  const answers = Array.from({ length: 30 }, (_, i) => s.solicited(6001 + i, false));
  assert.equal(answers.filter((a) => a === "unicast").length, 10);
  assert.equal(answers.filter((a) => a === "later").length, 20);
  assert.equal(s.deadline, 9000);
  // the bucket refills at 10 per second
  assert.equal(s.solicited(7500, false), "unicast");
  // an unsolicited RA due inside the window waits for its end
  const t = new RaSchedule({ ...TIMINGS, initialIntervalMs: 1000 }, () => 0, 0);
  t.sentMulticast(0);
  assert.equal(t.deadline, 3000);
});

// ---------------------------------------------------------------------------
// Lab

interface Fixture {
  readonly child: Deno.ChildProcess;
  next(): Promise<Record<string, unknown>>;
}

function startFixture(lab: Lab, host: string, mode: string, args: unknown): Fixture {
  const child = lab.spawn(
    host,
    [Deno.execPath(), "run", "-A", "--cached-only", FIXTURE, mode, JSON.stringify(args)],
    { stdout: "piped", stderr: "inherit" },
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  ).getReader();
  return {
    child,
    async next() {
      const { value, done } = await reader.read();
      if (done) throw new Error(`fixture ${mode} ended`);
      return JSON.parse(value);
    },
  };
}

interface Answer {
  timeout?: boolean;
  second?: Answer;
  ms: number;
  unicast: boolean;
  src: string;
  dst: string;
  ethSrc: string;
  ra: {
    curHopLimit: number;
    managed: boolean;
    other: boolean;
    routerLifetimeS: number;
    mtu?: number;
    sourceLinkLayer?: string;
    prefixes: { prefix: string; length: number }[];
  };
}

async function solicit(lab: Lab, args: Record<string, unknown>): Promise<Answer> {
  const f = startFixture(lab, "cli", "solicit", { ifname: "eth0", timeoutMs: 6000, ...args });
  const out = await f.next();
  await f.child.status;
  return out as unknown as Answer;
}

async function sh(lab: Lab, host: string, cmd: string[]): Promise<string> {
  const r = await lab.exec(host, cmd);
  assert.equal(r.code, 0, `${cmd.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A lab whose client takes RAs as a host does (accept_ra=1, forwarding off). */
async function raLab(prefix: string) {
  const lab = await createLab(prefix, [{ name: "srv", address: "10.95.0.1/24" }, { name: "cli" }]);
  for (
    const kv of [
      "net.ipv6.conf.all.forwarding=0",
      "net.ipv6.conf.eth0.forwarding=0",
      "net.ipv6.conf.eth0.accept_ra=1",
    ]
  ) await sh(lab, "cli", ["sysctl", "-qw", kv]);
  const srvMac = (await sh(lab, "srv", ["cat", "/sys/class/net/eth0/address"])).trim();
  const cliMac = (await sh(lab, "cli", ["cat", "/sys/class/net/eth0/address"])).trim();
  return { lab, srvMac, cliMac };
}

async function advertise(lab: Lab, args: Record<string, unknown>) {
  const f = startFixture(lab, "srv", "advertise", { ifname: "eth0", ...args });
  const ready = await f.next();
  assert.equal(ready.ready, true);
  const stop = async () => {
    f.child.kill("SIGTERM");
    const last = await f.next();
    await f.child.status;
    return last.stats as Record<string, number> & { ignoredBy: Record<string, number> };
  };
  return { ready, stop, fixture: f };
}

async function snmp6(lab: Lab, key: string): Promise<number> {
  const text = await sh(lab, "cli", ["cat", "/proc/net/snmp6"]);
  return Number(new RegExp(`^${key}\\s+(\\d+)`, "m").exec(text)?.[1] ?? NaN);
}

async function until(what: string, f: () => Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const skip = labSkipReason(["sysctl"]);

Deno.test({
  name: "lab: the default RA (lifetime 0, no prefix) is accepted; RSs are answered at once",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { lab, srvMac, cliMac } = await raLab("rad");
    await using _ = lab;
    // The kernel forms its link-local address by EUI-64 here, as the advertiser assumes.
    const ll = await sh(lab, "srv", ["ip", "-6", "addr", "show", "dev", "eth0", "scope", "link"]);
    const eui64 = formatIpv6(linkLocalFromMac(macToBytes(srvMac)));
    assert.match(ll, new RegExp(`inet6 ${eui64}/64`), ll);
    const rasBefore = await snmp6(lab, "Icmp6InRouterAdvertisements");

    const adv = await advertise(lab, {});
    assert.equal(adv.ready.source, eui64);
    // The first RS may come inside the 3 s after the first (unsolicited) RA or
    // not; the second, right after the first's answer, comes inside a window
    // and, from an address, is answered at once by unicast.
    const a = await solicit(lab, { from: "link-local", junk: true, again: true });
    assert.ok(!a.timeout && a.second && !a.second.timeout, JSON.stringify(a));
    const u = a.second!;
    assert.equal(u.unicast, true, JSON.stringify(a));
    assert.equal(u.dst, formatIpv6(linkLocalFromMac(macToBytes(cliMac))));
    assert.equal(u.src, eui64);
    assert.equal(u.ethSrc, srvMac);
    for (const r of [a, u]) {
      assert.deepEqual(r.ra, {
        curHopLimit: 64,
        managed: false,
        other: false,
        routerLifetimeS: 0,
        reachableTimeMs: 0,
        retransTimerMs: 0,
        sourceLinkLayer: srvMac,
        prefixes: [],
      });
    }
    assert.ok(a.ms < 500, `first answer after ${a.ms} ms`);
    assert.ok(u.ms < 500, `unicast answer after ${u.ms} ms`);
    // Past the window: an RS from :: gets a multicast answer at once; a second
    // one right after waits for the window to end.
    await new Promise((r) => setTimeout(r, 3100));
    const b = await solicit(lab, { from: "unspecified", again: true });
    assert.equal(b.unicast, false, JSON.stringify(b));
    assert.equal(b.dst, "ff02::1");
    assert.ok(b.ms < 500, `multicast answer after ${b.ms} ms`);
    const c = b.second!;
    assert.equal(c.unicast, false, JSON.stringify(b));
    assert.ok(c.ms > 2000 && c.ms < 3800, `rate-limited answer after ${c.ms} ms`);
    console.log(
      `RS→RA: first ${a.ms} ms, unicast ${u.ms} ms, multicast ${b.ms} ms, ` +
        `rate-limited ${c.ms} ms`,
    );

    if (hasCommand("rdisc6")) {
      const r = await lab.exec("cli", ["rdisc6", "-1", "-w", "4000", "eth0"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /Router lifetime\s*:\s*0 \(0x00000000\) seconds/, r.stdout);
      assert.match(r.stdout, /Stateful address conf\.\s*:\s*No/);
      assert.match(r.stdout, new RegExp(`from ${eui64}`));
      assert.doesNotMatch(r.stdout, /Prefix/);
    } else {console.log(
        "rdisc6 not installed (Debian ndisc6): RS→RA checked from the raw socket only",
      );}

    // The client's kernel took our RAs (checksum, hop limit 255, link-local source)...
    assert.ok((await snmp6(lab, "Icmp6InRouterAdvertisements")) >= rasBefore + 3);
    assert.equal(await snmp6(lab, "Icmp6InCsumErrors"), 0);
    // ...and, lifetime 0 and no prefix, made us neither its default router nor a source of addresses.
    assert.equal((await sh(lab, "cli", ["ip", "-6", "route", "show", "default"])).trim(), "");
    const addrs = await sh(lab, "cli", [
      "ip",
      "-6",
      "addr",
      "show",
      "dev",
      "eth0",
      "scope",
      "global",
    ]);
    assert.equal(addrs.trim(), "");

    const stats = await adv.stop();
    assert.ok(stats.solicitations! >= 4, JSON.stringify(stats));
    assert.ok(stats.solicited! >= 4, JSON.stringify(stats));
    assert.ok(stats.deferred! >= 1, JSON.stringify(stats));
    assert.equal(stats.ignoredBy.malformed, 2, JSON.stringify(stats));
    assert.equal(stats.ignored, 2, JSON.stringify(stats));
    assert.ok(stats.sent! >= stats.solicited! + 2, "the first RA and the final one");
    assert.equal(stats.sendFailures, 0);
  },
});

Deno.test({
  name:
    "lab: with a prefix (lifetime 0) the client forms an address and takes the MTU, no default route",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { lab, cliMac } = await raLab("rap");
    await using _ = lab;
    const prefix = "fd6d:6573:6800:95::";
    const adv = await advertise(lab, { prefix: `${prefix}/64`, mtu: 1400 });
    const eui = linkLocalFromMac(macToBytes(cliMac));
    eui.set(parseIpv6(prefix).subarray(0, 8));
    const slaac = formatIpv6(eui);
    await until(
      `address ${slaac}`,
      async () =>
        (await sh(lab, "cli", ["ip", "-6", "addr", "show", "dev", "eth0"])).includes(`${slaac}/64`),
    );
    const routes = await sh(lab, "cli", ["ip", "-6", "route", "show"]);
    assert.match(routes, /^fd6d:6573:6800:95::\/64 dev eth0/m, routes);
    assert.doesNotMatch(routes, /^default/m, routes);
    assert.equal((await sh(lab, "cli", ["sysctl", "-n", "net.ipv6.conf.eth0.mtu"])).trim(), "1400");
    const a = await solicit(lab, { from: "link-local" });
    assert.deepEqual(a.ra.prefixes, [{
      prefix,
      length: 64,
      onLink: true,
      autonomous: true,
      validLifetimeS: 86400,
      preferredLifetimeS: 14400,
    }]);
    assert.equal(a.ra.routerLifetimeS, 0);
    assert.equal(a.ra.mtu, 1400);
    const stats = await adv.stop();
    assert.equal(stats.ignored, 0, JSON.stringify(stats));
  },
});

Deno.test({
  name:
    "lab: as a default router (lifetime 1800) the client routes via us until close() withdraws it",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { lab, srvMac } = await raLab("rar");
    await using _ = lab;
    const adv = await advertise(lab, { lifetimeS: 1800 });
    const via = formatIpv6(linkLocalFromMac(macToBytes(srvMac)));
    const defaults = () => sh(lab, "cli", ["ip", "-6", "route", "show", "default"]);
    await until("a default route", async () => (await defaults()).includes(`via ${via} dev eth0`));
    await adv.stop();
    await until("the default route to go", async () => (await defaults()).trim() === "");
  },
});
