/**
 * Overlay access is as strict on a proxy segment as on one mesh serves in
 * full: dnsmasq hands out the addresses, mesh (auto, so proxy there) never
 * sees a lease of its own, and the binding of address to MAC comes from the
 * kernel's neighbour table. The victim gets its overlay; an attacker with a
 * dnsmasq lease of its own who claims the victim's identity gets nothing.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { copyTree } from "../config_corpus/tree.ts";
import {
  addLabMachine,
  type Daemon,
  EXAMPLE,
  startDaemon,
  stopDaemon,
  waitForLog,
} from "../lib/mesh_daemon.ts";
import { startDnsmasq } from "../lib/dnsmasq.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";
import { dhcpOnce } from "../lib/serve_checks.ts";

const UUID = "6d657368-0000-4000-8000-525400970001";
const VICTIM_ID = nodeIdFor({ uuid: UUID }).id;
const skip = labSkipReason(["udhcpc", "curl", "dnsmasq"]);

async function lease(lab: Lab, host: string): Promise<string> {
  const r = await dhcpOnce(lab, host, { tries: 10 });
  const ip = /lease of (10\.52\.0\.\d+) obtained/.exec(r.stderr + r.stdout)?.[1];
  assert.ok(ip, `no lease for ${host}: ${r.stderr}`);
  const add = await lab.exec(host, ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
  assert.equal(add.code, 0, add.stderr);
  return ip;
}

Deno.test({
  name:
    "proxy segment: overlays only for the address the node holds (neighbour table), as in server mode",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-proxy-ovl-" });
    await using lab = await createLab("povl", [
      { name: "c" },
      { name: "d", address: "10.52.0.1/24" },
      { name: "victim" },
      { name: "evil" },
    ]);
    await startDnsmasq(lab, "d", {
      dir: tmp,
      ranges: ["10.52.0.100,10.52.0.150,255.255.255.0,1h"],
    });
    let d: Daemon | undefined;
    try {
      const host0 = `${tmp}/host0`;
      await copyTree(EXAMPLE, host0);
      await Deno.writeTextFile(
        `${host0}/mesh.yaml`,
        `state_dir: ${tmp}/state\nsubnet_pool:\n  - 10.121.0.0/16\n`,
      );
      await addLabMachine(host0, "victim", VICTIM_ID, "victim-secret");
      d = startDaemon(lab, "c", host0);
      await d.ready;
      const leased = await waitForLog(d, "address leased", { timeoutMs: 30_000 });
      const srv = (leased.properties as { address: string }).address.split("/")[0]!;
      const get = async (host: string, path: string) => {
        const r = await lab.exec(host, [
          "curl",
          ...["-s", "-m", "10", "-w", "\n%{http_code}"],
          `http://${srv}${path}`,
        ]);
        const i = r.stdout.lastIndexOf("\n");
        return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
      };

      const victimMac = (await lab.exec("victim", ["cat", "/sys/class/net/eth0/address"])).stdout
        .trim();
      await lease(lab, "victim");
      const script = await get("victim", `/boot.ipxe?mac=${victimMac}&uuid=${UUID}`);
      assert.match(script.body, new RegExp(`apkovl/${VICTIM_ID}\\.tar\\.gz`));
      const own = await lab.exec("victim", [
        "sh",
        "-c",
        `curl -sf -m 10 http://${srv}/apkovl/${VICTIM_ID}.tar.gz | tar -xzO etc/mesh-e2e-marker`,
      ]);
      assert.equal(own.stdout.trim(), "victim-secret", own.stderr);

      await lease(lab, "evil");
      const claimed = await get("evil", `/boot.ipxe?mac=${victimMac}&uuid=${UUID}`);
      assert.equal(claimed.status, 200);
      assert.doesNotMatch(claimed.body, new RegExp(VICTIM_ID));
      for (const name of [VICTIM_ID, UUID, victimMac]) {
        const r = await lab.exec("evil", [
          "sh",
          "-c",
          `curl -s -m 10 http://${srv}/apkovl/${name}.tar.gz | tar -xzO 2>/dev/null | grep -c victim-secret || true`,
        ]);
        assert.equal(r.stdout.trim(), "0", `the victim's overlay leaked via ${name}`);
      }
    } finally {
      if (d) await stopDaemon(d);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
