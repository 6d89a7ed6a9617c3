/**
 * The network scan under a hostile ARP flood. A central namespace has eth0 and
 * eth1 on switch A and eth2 on switch B; an attacker on switch A floods it
 * (tests/net/_arp_flood_fixture.ts: truncated and malformed ARP, frames
 * claiming the central host's MACs, forged marker probes, unsolicited replies,
 * probes of its own, group senders, and a stream of made-up senders) from
 * before `mesh net scan --json` starts until after it ends. The scan must
 * still exit 0, keep eth0+eth1 together and eth2 apart, count every kind of
 * hostile frame under its reason, and keep at most maxNeighbours neighbours.
 */
import { meshIn } from "../lib/mesh_daemon.ts";
import assert from "node:assert/strict";
import { SCAN_DEFAULTS } from "../../src/topology/mod.ts";
import { TextLineStream } from "../lib/lines.ts";
import { createNetLab, labSkipReason, type NetLab } from "../lib/netns.ts";

const skip = labSkipReason();
const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURE = `${ROOT}tests/net/_arp_flood_fixture.ts`;
const PORTS = ["eth0", "eth1", "eth2"] as const;

interface ScanJson {
  segments: { id: string; interfaces: string[]; neighbours: unknown[] }[];
  scan: {
    ms: number;
    probesSent: number;
    frames: number;
    ignored: Record<string, number>;
    sendFailures: Record<string, number>;
    unopened: Record<string, string>;
  };
}

function buildLab(): Promise<NetLab> {
  return createNetLab("hostile", {
    switches: ["swa", "swb"],
    hosts: [
      {
        name: "c",
        ports: [
          { name: "eth0", switch: "swa" },
          { name: "eth1", switch: "swa" },
          { name: "eth2", switch: "swb" },
        ],
      },
      { name: "x", ports: [{ name: "eth0", switch: "swa" }] },
    ],
  });
}

/** Resolves with the next line, or rejects after `ms`. */
async function nextLine(lines: ReadableStreamDefaultReader<string>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await Promise.race([
      lines.read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no line from the flood within ${ms} ms`)), ms);
      }),
    ]);
    if (r.done) throw new Error("the flood fixture exited without a word");
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "mesh net scan under an ARP flood: segments intact, every hostile frame counted, neighbours bounded",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await buildLab();
    const dir = await Deno.makeTempDir({ prefix: "mesh-scan-hostile-" });
    try {
      // The ARP scan is under test: no DHCP probe (it would outlast the bounded flood).
      await Deno.writeTextFile(
        `${dir}/mesh.yaml`,
        "subnet_pool:\n  - 10.77.0.0/16\nscan:\n  dhcp_probe_ms: 0\n",
      );
      const macs: string[] = [];
      for (const p of PORTS) {
        const r = await lab.exec("c", ["cat", `/sys/class/net/${p}/address`]);
        assert.equal(r.code, 0, r.stderr);
        macs.push(r.stdout.trim());
      }

      // The real deno binary, not tools/deno: SIGTERM then reaches the fixture itself.
      const flood = lab.spawn("x", [
        Deno.execPath(),
        "run",
        "-A",
        "--cached-only",
        FIXTURE,
        "eth0",
        macs.join(","),
        "--max-frames",
        "200000",
        "--max-ms",
        "6000",
        "--exact-forgery",
      ], { stdout: "piped", stderr: "inherit" });
      let floodEnded = false;
      const status = flood.status.then((s) => {
        floodEnded = true;
        return s;
      });
      const lines = flood.stdout
        .pipeThrough(new TextDecoderStream())
        .pipeThrough(new TextLineStream())
        .getReader();
      assert.equal(await nextLine(lines, 30_000), "flooding");

      const r = await meshIn(lab, "c", [
        "--host0",
        dir,
        "--state",
        `${dir}/state`,
        "--json",
        "net",
        "scan",
      ]);
      const overlapped = !floodEnded;
      try {
        flood.kill("SIGTERM");
      } catch { /* it ended on its own limits */ }
      const summary = await nextLine(lines, 10_000).catch((e) => `(no summary: ${e})`);
      const gone = setTimeout(() => {
        try {
          flood.kill("SIGKILL");
        } catch { /* gone */ }
      }, 10_000);
      await status;
      clearTimeout(gone);
      lines.releaseLock();
      console.log(`flood: ${summary}`);

      assert.equal(r.code, 0, `mesh net scan failed under the flood: ${r.stderr}`);
      assert.ok(overlapped, `the flood ended before the scan did (${summary}): nothing was tested`);
      const j = JSON.parse(r.stdout) as ScanJson;
      const neighbours = j.segments.reduce((n, s) => n + s.neighbours.length, 0);
      console.log(
        `scan under flood: ${j.scan.ms} ms, ${j.scan.frames} frames, ${j.scan.probesSent} probes ` +
          `sent, send failures ${JSON.stringify(j.scan.sendFailures)}, ${neighbours} neighbours, ` +
          `ignored ${JSON.stringify(j.scan.ignored)}`,
      );

      assert.deepEqual(j.scan.unopened, {});
      const seg = (p: string) => j.segments.find((s) => s.interfaces.includes(p))?.interfaces;
      assert.deepEqual(
        seg("eth0"),
        ["eth0", "eth1"],
        JSON.stringify(j.segments.map((s) => s.interfaces)),
      );
      assert.deepEqual(seg("eth2"), ["eth2"]);
      assert.equal(j.segments.length, 2);
      for (
        const reason of [
          "malformed",
          "forged-marker",
          "unsolicited-reply",
          "foreign-probe",
          "own-mac",
          "bad-sender",
          "neighbour-limit",
        ]
      ) {
        assert.ok((j.scan.ignored[reason] ?? 0) > 0, `no frame ignored as ${reason}`);
      }
      assert.ok(neighbours <= SCAN_DEFAULTS.maxNeighbours, `${neighbours} neighbours kept`);
      // Switch B never saw the flood.
      assert.deepEqual(j.segments.find((s) => s.interfaces.includes("eth2"))?.neighbours, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
