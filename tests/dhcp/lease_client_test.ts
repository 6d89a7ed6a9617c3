/**
 * The lease client against dnsmasq as the segment's existing DHCP server (a
 * lab the test builds: "srv" runs dnsmasq with a 2-minute lease, "cli" runs
 * tests/dhcp/_lease_client_fixture.ts). It binds within seconds, the address
 * is on eth0 and in dnsmasq's lease file; after a crash, a restart with the
 * previous address gets it back through INIT-REBOOT; SIGTERM releases it
 * (dnsmasq forgets the lease); a restart after a release, when dnsmasq no
 * longer knows the lease and stays silent, falls back to DISCOVER and still
 * gets the same address. Renewal takes a minute even with dnsmasq's shortest
 * lease: the pure tests cover it (src/dhcp/lease_client_test.ts).
 */
import assert from "node:assert/strict";
import { TextLineStream } from "../lib/lines.ts";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";

const skip = labSkipReason(["dnsmasq"]);
const FIXTURE = new URL("./_lease_client_fixture.ts", import.meta.url).pathname;
const RANGE = /^10\.50\.0\.(1[0-4]\d|150)$/;

interface FixtureEvent {
  readonly event: string;
  readonly ip?: string;
  readonly prefix?: number;
  readonly server?: string;
  readonly via?: string;
  readonly why?: string;
}

/** The fixture in the client namespace, read one JSON event at a time. */
class Fixture {
  readonly child: Deno.ChildProcess;
  readonly seen: string[] = [];
  readonly #lines: ReadableStreamDefaultReader<string>;
  #stderr = "";

  constructor(lab: Lab, args: Record<string, string>) {
    this.child = lab.spawn(
      "cli",
      [Deno.execPath(), "run", "-A", "--cached-only", FIXTURE, JSON.stringify(args)],
      { stdout: "piped", stderr: "piped" },
    );
    this.#lines = this.child.stdout.pipeThrough(new TextDecoderStream())
      .pipeThrough(new TextLineStream()).getReader();
    const stderr = this.child.stderr;
    (async () => {
      for await (const t of stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr += t;
      }
    })();
  }

  /** The next event named `event` (earlier ones are kept in `seen`), within `ms`. */
  async next(event: string, ms: number): Promise<FixtureEvent> {
    const deadline = Date.now() + ms;
    while (true) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<null>((r) =>
        timer = setTimeout(() => r(null), deadline - Date.now())
      );
      const r = await Promise.race([this.#lines.read(), timeout]);
      clearTimeout(timer);
      if (r === null || r.done) {
        throw new Error(`no "${event}" within ${ms} ms: ${this.seen.join("\n")}\n${this.#stderr}`);
      }
      this.seen.push(r.value);
      const e = JSON.parse(r.value) as FixtureEvent;
      if (e.event === event) return e;
    }
  }
}

async function eth0Addresses(lab: Lab): Promise<string[]> {
  const r = await lab.exec("cli", ["ip", "-j", "-4", "addr", "show", "dev", "eth0"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** Polls `check` every 100 ms for up to `ms`. */
async function until(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return await check();
}

Deno.test({
  name:
    "lease client: a lease from dnsmasq, kept across a crash (INIT-REBOOT), released on SIGTERM",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createLab("lease", [
      { name: "srv", address: "10.50.0.1/24" },
      { name: "cli" },
    ]);
    const dir = await Deno.makeTempDir({ prefix: "mesh-lease-client-" });
    try {
      // dnsmasq as it ships: it pings an address before offering it.
      const { leases, log: dnsmasqLog } = await startDnsmasq(lab, "srv", {
        dir,
        ranges: ["10.50.0.100,10.50.0.150,255.255.255.0,2m"],
        ping: true,
      });
      const mac = (await lab.exec("cli", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();

      // First start: DISCOVER → OFFER → REQUEST → ACK.
      const first = new Fixture(lab, { ifname: "eth0", hostname: "central" });
      const b1 = await first.next("bound", 10_000);
      assert.match(b1.ip ?? "", RANGE);
      assert.equal(b1.prefix, 24);
      assert.equal(b1.server, "10.50.0.1");
      assert.equal(b1.via, "REQUESTING");
      const cidr = `${b1.ip}/24`;
      assert.ok((await eth0Addresses(lab)).includes(cidr), `${cidr} on eth0`);
      const line = (await readText(leases)).split("\n").find((l) => l.includes(mac));
      assert.ok(line, `dnsmasq lists ${mac}:\n${await readText(leases)}`);
      assert.ok(line.includes(` ${b1.ip} central `), line);

      // A crash: no RELEASE. The address goes with the "reboot"; dnsmasq keeps the lease.
      first.child.kill("SIGKILL");
      await first.child.status;
      const del = await lab.exec("cli", ["ip", "addr", "del", cidr, "dev", "eth0"]);
      assert.equal(del.code, 0, del.stderr);
      assert.ok((await readText(leases)).includes(mac));

      // Restart with the previous address: INIT-REBOOT, acknowledged at once.
      const second = new Fixture(lab, { ifname: "eth0", previous: b1.ip! });
      const b2 = await second.next("bound", 5_000);
      assert.equal(b2.ip, b1.ip);
      assert.equal(b2.via, "REBOOTING");
      assert.ok((await eth0Addresses(lab)).includes(cidr));

      // SIGTERM: DHCPRELEASE, the address comes off, dnsmasq forgets the lease.
      second.child.kill("SIGTERM");
      const u = await second.next("unbound", 5_000);
      assert.equal(u.why, "released");
      await second.next("stopped", 5_000);
      assert.equal((await second.child.status).code, 0);
      assert.deepEqual(await eth0Addresses(lab), []);
      assert.ok(
        await until(5_000, async () => !(await readText(leases)).includes(mac)),
        `dnsmasq still lists ${mac}:\n${await readText(leases)}`,
      );
      assert.match(await readText(dnsmasqLog), new RegExp(`DHCPRELEASE\\(eth0\\) ${b1.ip} ${mac}`));

      // Restart after the release: dnsmasq does not know the lease and stays silent on
      // INIT-REBOOT; after 10 s the client discovers, asking for its old address.
      const third = new Fixture(lab, { ifname: "eth0", previous: b1.ip! });
      const b3 = await third.next("bound", 20_000);
      assert.equal(b3.ip, b1.ip);
      assert.equal(b3.via, "REQUESTING");
      third.child.kill("SIGTERM");
      assert.equal((await third.next("unbound", 5_000)).why, "released");
      assert.equal((await third.child.status).code, 0);
    } finally {
      await lab.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
