/**
 * `mesh serve` in `auto` on two switches: one where dnsmasq already hands
 * out addresses, one with nothing. mesh must pick proxyDHCP on the first
 * (taking its own address there from dnsmasq) and full DHCP on the second,
 * in one daemon. Then a second DHCP server appears on the segment mesh
 * serves in full: within 10 s of its first OFFER on the wire mesh stops
 * handing out addresses there, and no OFFER of an address from mesh is seen
 * after that.
 */
import assert from "node:assert/strict";
import { copyTree } from "../config_corpus/tree.ts";
import {
  type Daemon,
  EXAMPLE,
  meshJson,
  startDaemon,
  stopDaemon,
  waitForLog,
} from "../lib/mesh_daemon.ts";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createNetLab, labSkipReason, type NetLab } from "../lib/netns.ts";
import { TextLineStream } from "../lib/lines.ts";

const skip = labSkipReason(["udhcpc", "dnsmasq"]);
const ROOT = new URL("../../", import.meta.url).pathname;
const REPLIES = `${ROOT}tests/net/_dhcp_replies_fixture.ts`;

function dnsmasq(lab: NetLab, host: string, dir: string, range: string) {
  return startDnsmasq(lab, host, { dir, ranges: [`${range},255.255.255.0,1h`] });
}

/** One lease with udhcpc (never without -s); `broadcast` asks for broadcast replies. */
async function lease(lab: NetLab, host: string, broadcast = false): Promise<string> {
  const r = await lab.exec(host, [
    "udhcpc",
    ...["-i", "eth0", "-f", "-q", "-n", "-t", "4", "-T", "2", "-s", "/bin/true"],
    ...(broadcast ? ["-B"] : []),
  ], { timeoutMs: 60_000 });
  const m = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(r.stderr);
  assert.ok(m, `${host}: no lease: ${r.stderr}`);
  return m[1]!;
}

Deno.test({
  name:
    "mesh serve auto: proxy beside dnsmasq, server alone; a rogue server makes it stop serving there",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createNetLab("auto", {
      switches: ["swa", "swb"],
      hosts: [
        { name: "c", ports: [{ name: "eth0", switch: "swa" }, { name: "eth1", switch: "swb" }] },
        { name: "d", ports: [{ name: "eth0", switch: "swa", address: "10.50.0.1/24" }] },
        { name: "a", ports: [{ name: "eth0", switch: "swa" }] },
        { name: "b", ports: [{ name: "eth0", switch: "swb" }] },
        { name: "r", ports: [{ name: "eth0", switch: "swb", address: "10.60.0.1/24" }] },
      ],
    });
    const tmp = await Deno.makeTempDir({ prefix: "mesh-auto-" });
    await dnsmasq(lab, "d", tmp, "10.50.0.100,10.50.0.150");
    const host0 = `${tmp}/host0`;
    await copyTree(EXAMPLE, host0);
    await Deno.writeTextFile(
      `${host0}/mesh.yaml`,
      `state_dir: ${tmp}/state\nsubnet_pool:\n  - 10.120.0.0/16\n`,
    );
    let d: Daemon | undefined;
    try {
      d = startDaemon(lab, "c", host0);
      const ready = await d.ready;
      const props = ready.properties as { dhcp: string[]; proxy: string[] };
      assert.deepEqual(props.dhcp, ["eth1"]);
      // proxy on eth0 once mesh holds an address from dnsmasq there
      const proxied = await waitForLog(d, "address leased", { timeoutMs: 30_000 });
      assert.match((proxied.properties as { address: string }).address, /^10\.50\.0\.1\d\d\/24$/);

      // eth1: full DHCP from the pool; eth0: addresses from dnsmasq only.
      assert.match(await lease(lab, "b"), /^10\.120\./);
      assert.match(await lease(lab, "a"), /^10\.50\.0\.1\d\d$/);

      // A second server appears where mesh serves in full.
      const cap = lab.spawn("b", [
        Deno.execPath(),
        "run",
        "-A",
        "--cached-only",
        REPLIES,
        "eth0",
        "30000",
      ], {
        stdout: "piped",
      });
      const lines = cap.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
        new TextLineStream(),
      )
        .getReader();
      assert.equal((await lines.read()).value, "ready");
      const heard: { srcMac: string; type: number; yiaddr: string; at: number }[] = [];
      const reading = (async () => {
        for (let r = await lines.read(); !r.done; r = await lines.read()) {
          heard.push({ ...JSON.parse(r.value), at: Date.now() });
        }
      })();
      const since = d.logs.length;
      await dnsmasq(lab, "r", tmp, "10.60.0.100,10.60.0.150");
      // Its OFFERs go out broadcast to a client that asks for that.
      const got = await lease(lab, "b", true).catch(() => "");
      const rogue = await waitForLog(
        d,
        "another DHCP server hands out addresses on a segment mesh serves",
        {
          since,
          timeoutMs: 20_000,
        },
      );
      assert.equal((rogue.properties as { server: string }).server, "10.60.0.1");
      const stopped = await waitForLog(d, "segment no longer served", { since, timeoutMs: 10_000 });
      assert.equal((stopped.properties as { if: string }).if, "eth1");
      const firstForeign = heard.find((h) => h.srcMac !== "" && h.yiaddr.startsWith("10.60."));
      assert.ok(firstForeign, `no OFFER from the second server heard: ${JSON.stringify(heard)}`);
      const stopAt = Date.parse(String(stopped["@timestamp"]));
      console.log(
        `full DHCP on eth1 stopped ${stopAt - firstForeign.at} ms after the first foreign reply`,
      );
      assert.ok(stopAt - firstForeign.at < 10_000, `stopped ${stopAt - firstForeign.at} ms after`);
      // What comes instead: proxyDHCP from an address the other server leases us.
      const leased = await waitForLog(d, "address leased", { since, timeoutMs: 30_000 });
      assert.match((leased.properties as { address: string }).address, /^10\.60\.0\.1\d\d\/24$/);

      // After the switch: clients get their address from the other server, and mesh offers none.
      const after = Date.now();
      assert.match(await lease(lab, "b", true), /^10\.60\./);
      cap.kill("SIGTERM");
      await reading.catch(() => {});
      const ours = heard.filter((h) => h.at > after && h.yiaddr.startsWith("10.120."));
      assert.deepEqual(ours, [], "mesh offered an address after the switch");

      // mesh system status: both segments proxy now, with the servers seen and why.
      const status = await meshJson(host0, ["system", "status"]) as {
        segments: {
          interfaces: string[];
          mode: string;
          reason: string;
          dhcpServers: { serverId: string; by: string }[];
        }[];
        services: { daemon: { running: boolean }; proxy: string[] };
      };
      const seg = (i: string) => status.segments.find((x) => x.interfaces.includes(i))!;
      assert.equal(status.services.daemon.running, true);
      assert.deepEqual([seg("eth0").mode, seg("eth1").mode], ["proxy", "proxy"]);
      assert.ok(
        seg("eth0").dhcpServers.some((x) => x.serverId === "10.50.0.1" && x.by === "probe"),
      );
      assert.ok(
        seg("eth1").dhcpServers.some((x) => x.serverId === "10.60.0.1" && x.by === "guard"),
      );
      assert.match(seg("eth1").reason, /guard/);
      void got;
    } finally {
      if (d) await stopDaemon(d);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
