/**
 * The attacks of the hardening issue against `mesh serve` itself, on a lab
 * switch: a victim node with a lease and its own overlay, an attacker with a
 * lease of its own, and a host that has no lease at all.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import {
  addLabMachine,
  type Daemon,
  meshJson,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../lib/mesh_daemon.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";
import { dhcpOnce } from "../lib/serve_checks.ts";

const SRV = "10.96.0.1";
const UUID = "6d657368-0000-4000-8000-525400960001";
const VICTIM_ID = nodeIdFor({ uuid: UUID }).id;
const skip = labSkipReason(["udhcpc", "curl"]);

/** Takes a lease on `host` and puts its address on eth0; returns the address. */
async function lease(lab: Lab, host: string): Promise<string> {
  const r = await dhcpOnce(lab, host, { tries: 10 });
  const ip = /lease of (10\.96\.0\.\d+) obtained/.exec(r.stderr + r.stdout)?.[1];
  assert.ok(ip, `no lease for ${host}: ${r.stderr}`);
  const add = await lab.exec(host, ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
  assert.equal(add.code, 0, add.stderr);
  return ip;
}

async function get(lab: Lab, host: string, path: string) {
  const r = await lab.exec(host, [
    "curl",
    ...["-s", "-m", "10", "-w", "\n%{http_code}"],
    `http://${SRV}${path}`,
  ]);
  const i = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(i + 1)), body: r.stdout.slice(0, i) };
}

async function mac(lab: Lab, host: string): Promise<string> {
  return (await lab.exec(host, ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
}

Deno.test({
  name: "hostile network: no overlay by any name, no report, no rewrite, no node flood",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-hostile-" });
    await using lab = await createLab("hnet", [
      { name: "srv", address: `${SRV}/24` },
      { name: "victim" },
      { name: "evil" },
      { name: "stranger", address: "10.96.0.3/24" },
    ]);
    let d: Daemon | undefined;
    try {
      const host0 = `${tmp}/host0`;
      const state = `${tmp}/state`;
      await writeLabHost0(host0, { state, srv: SRV, pool: ["10.96.0.100", "10.96.0.150"] });
      await addLabMachine(host0, "victim", VICTIM_ID, "victim-secret");
      d = startDaemon(lab, "srv", host0);
      await d.ready;

      // The victim boots: lease, boot script with its UUID, its own overlay.
      const victimMac = await mac(lab, "victim");
      await lease(lab, "victim");
      const script = await get(lab, "victim", `/boot.ipxe?mac=${victimMac}&uuid=${UUID}`);
      assert.match(script.body, new RegExp(`apkovl/${VICTIM_ID}\\.tar\\.gz`));
      const own = await lab.exec("victim", [
        "sh",
        "-c",
        `curl -sf -m 10 http://${SRV}/apkovl/${VICTIM_ID}.tar.gz | tar -xzO etc/mesh-e2e-marker`,
      ]);
      assert.equal(own.stdout.trim(), "victim-secret", own.stderr);

      // The attacker holds a lease of its own and claims the victim's identity.
      await lease(lab, "evil");
      const claimed = await get(lab, "evil", `/boot.ipxe?mac=${victimMac}&uuid=${UUID}`);
      assert.equal(claimed.status, 200);
      assert.doesNotMatch(claimed.body, new RegExp(VICTIM_ID));
      for (
        const name of [VICTIM_ID, UUID, victimMac, "00000000-0000-0000-0000-000000000000"]
      ) {
        const r = await lab.exec("evil", [
          "sh",
          "-c",
          `curl -s -m 10 http://${SRV}/apkovl/${name}.tar.gz | tar -xzO 2>/dev/null | grep -c victim-secret || true`,
        ]);
        assert.equal(r.stdout.trim(), "0", `the victim's overlay leaked via ${name}`);
      }
      const report = await get(lab, "evil", `/api/v1/report/online?id=${VICTIM_ID}`);
      assert.equal(report.status, 403);
      const list = await get(lab, "evil", "/api/v1/nodes");
      assert.equal(list.status, 403, "the node list is not for boot clients");

      // A host with no lease: no writes, no nodes, however many requests.
      const before = await meshJson(host0, ["node", "list"]) as { id: string | null }[];
      assert.equal(
        (await get(lab, "stranger", `/api/v1/report/online?id=${VICTIM_ID}`)).status,
        403,
      );
      const urls = Array.from({ length: 3000 }, (_, i) => {
        const m = `02:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${
          (i & 255).toString(16).padStart(2, "0")
        }:01`;
        return [`-o`, `/dev/null`, `http://${SRV}/boot.ipxe?mac=${m}&uuid=${UUID}`];
      }).flat();
      const flood = await lab.exec("stranger", ["curl", "-s", "-m", "120", ...urls], {
        timeoutMs: 180_000,
      });
      assert.equal(flood.code, 0, flood.stderr.slice(0, 500));
      const after = await meshJson(host0, ["node", "list"]) as {
        id: string | null;
        mac: string | null;
        ip: string | null;
        stage: string;
      }[];
      assert.equal(after.length, before.length, "no node was created");
      const victim = after.find((n) => n.id === VICTIM_ID)!;
      assert.equal(victim.mac, victimMac, "the victim's MAC is unchanged");
      assert.notEqual(victim.stage, "online");

      // and the victim still gets its own overlay
      const again = await lab.exec("victim", [
        "sh",
        "-c",
        `curl -sf -m 10 http://${SRV}/apkovl/${VICTIM_ID}.tar.gz | tar -xzO etc/mesh-e2e-marker`,
      ]);
      assert.equal(again.stdout.trim(), "victim-secret");
    } finally {
      if (d) await stopDaemon(d);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
