/**
 * `mesh serve` in a lab, judged by real clients: a client boots the way a
 * PXE machine does, step by step with busybox udhcpc and curl (DHCP as a PXE
 * client, the iPXE binary over TFTP, the boot script, kernel, initrd and
 * overlay over HTTP, the online report), while curl follows the status
 * page's live stream. /metrics is scraped before and after, parsed by the
 * npm parser and by promtool, and its counters must have moved; the page
 * shows the node to loopback and refuses the client, which is no
 * management address.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import {
  type ParsedFamily,
  parseMetrics,
  promtoolCheck,
  sampleSum,
  sampleValue,
} from "../../src/testing/prometheus.ts";
import { type Daemon, startDaemon, stopDaemon, writeLabHost0 } from "../lib/mesh_daemon.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";
import { dhcpOnce } from "../lib/serve_checks.ts";

const SRV = "10.95.0.1";
const skip = labSkipReason(["udhcpc", "curl"]);

async function curl(lab: Lab, host: string, url: string, extra: string[] = []): Promise<string> {
  const r = await lab.exec(host, ["curl", "-sS", "-m", "20", ...extra, url]);
  assert.equal(r.code, 0, `${url}: ${r.stderr}`);
  return r.stdout;
}

async function scrape(lab: Lab): Promise<{ text: string; m: ParsedFamily[] }> {
  const text = await curl(lab, "srv", `http://${SRV}/metrics`);
  return { text, m: parseMetrics(text) };
}

Deno.test({
  name: "status lab: a client's boot moves every service's counters and arrives live on the page",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "mesh-status-lab-" });
    await using lab = await createLab("stl", [{ name: "srv", address: `${SRV}/24` }, {
      name: "cli",
    }]);
    let d: Daemon | undefined;
    try {
      const host0 = `${tmp}/host0`, state = `${tmp}/state`;
      await Deno.mkdir(`${state}/boot`, { recursive: true });
      await Deno.writeFile(`${state}/boot/vmlinuz`, new Uint8Array(300_000).fill(7));
      await Deno.writeFile(`${state}/boot/initrd.gz`, new Uint8Array(200_000).fill(9));
      await writeLabHost0(host0, { state, srv: SRV, pool: ["10.95.0.100", "10.95.0.150"] });
      d = startDaemon(lab, "srv", host0);
      await d.ready;
      const before = await scrape(lab);

      // The live stream, from the central node itself (loopback: the page's audience).
      const stream = lab.spawn("srv", [
        "curl",
        "-sN",
        "-m",
        "60",
        "http://127.0.0.1/api/v1/events/stream",
      ], {
        stdout: "piped",
        stderr: "null",
      });
      const lines = stream.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let live = "";
      const liveUntil = async (re: RegExp, ms: number) => {
        const deadline = Date.now() + ms;
        while (!re.test(live) && Date.now() < deadline) {
          const r = await Promise.race([
            lines.read(),
            new Promise<null>((res) => setTimeout(() => res(null), 500)),
          ]);
          if (r !== null && !r.done) live += r.value;
          if (r !== null && r.done) break;
        }
        return re.test(live);
      };
      assert.ok(await liveUntil(/: mesh live stream/, 10_000), `no stream greeting: ${live}`);

      // The boot, step by step.
      const dhcp = await dhcpOnce(lab, "cli", { vendorClass: "PXEClient:Arch:00000:UNDI:002001" });
      const ip = /lease of (\d+\.\d+\.\d+\.\d+) obtained/.exec(dhcp.stderr + dhcp.stdout)?.[1];
      assert.ok(ip, dhcp.stderr);
      await lab.exec("cli", ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
      const link = JSON.parse((await lab.exec("cli", ["ip", "-j", "link", "show", "eth0"])).stdout);
      const mac = link[0].address as string;
      const id = nodeIdFor({ mac }).id;
      assert.ok(
        Number(
          await curl(lab, "cli", `tftp://${SRV}/undionly.kpxe`, [
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
          ]),
        ) > 0,
      );
      assert.match(await curl(lab, "cli", `http://${SRV}/boot.ipxe?mac=${mac}`), /^#!ipxe/);
      // (the row's own stage, not one of its timeline's steps: it stands before lastSeen)
      const liveStage = (stage: string) =>
        new RegExp(`"key":"${id}"[^\\n]*"stage":"${stage}","lastSeen"`);
      assert.ok(await liveUntil(liveStage("script"), 10_000), live);
      for (const p of ["/boot/vmlinuz", "/boot/initrd.gz", `/apkovl/${id}.tar.gz`]) {
        await curl(lab, "cli", `http://${SRV}${p}`, ["-o", "/dev/null", "-f"]);
      }
      await curl(lab, "cli", `http://${SRV}/api/v1/report/online?id=${id}`, ["-f"]);
      assert.ok(await liveUntil(liveStage("online"), 10_000), live);

      // Every service's counters moved.
      const after = await scrape(lab);
      const grew = (name: string, labels: Record<string, string> = {}) => {
        const a = sampleSum(after.m, name, labels), b = sampleSum(before.m, name, labels);
        assert.ok(a > b, `${name} ${JSON.stringify(labels)}: ${b} -> ${a}`);
      };
      const eth0 = { interface: "eth0", mode: "server" };
      grew("mesh_dhcp_received_total", eth0);
      grew("mesh_dhcp_decisions_total", { ...eth0, type: "DISCOVER", decision: "reply" });
      grew("mesh_dhcp_decisions_total", { ...eth0, type: "REQUEST", decision: "reply" });
      grew("mesh_dhcp_replies_total", { ...eth0, type: "ACK" });
      assert.ok((sampleValue(after.m, "mesh_dhcp_leases", { ...eth0, state: "bound" }) ?? 0) >= 1);
      grew("mesh_tftp_transfers_total", { result: "completed" });
      grew("mesh_tftp_bytes_total");
      grew("mesh_http_requests_by_route_total", { route: "/boot.ipxe", status: "200" });
      grew("mesh_http_requests_by_route_total", { route: "/boot/*", status: "200" });
      // (read from the text: the npm parser folds the series of a labelled histogram)
      const online = /^mesh_boot_stage_duration_seconds_count\{stage="online"\} (\d+)$/m.exec(
        after.text,
      );
      assert.equal(online?.[1], "1", "the boot's last step, timed once");
      assert.equal(sampleValue(after.m, "mesh_nodes", { stage: "online" }), 1);
      for (const protocol of ["dhcp", "tftp", "http"]) {
        assert.equal(sampleValue(after.m, "mesh_decode_errors_total", { protocol }), 0, protocol);
      }
      assert.ok((sampleValue(after.m, "process_resident_memory_bytes") ?? 0) > 10e6);
      assert.ok(after.m.some((f) => f.name === "mesh_event_loop_delay_seconds"));
      const check = await promtoolCheck(after.text);
      if (check === null) {
        console.log("promtool not installed (Debian package prometheus): its check skipped");
      } else assert.equal(check.code, 0, check.output);

      // The page: the node for loopback, a refusal for the client.
      const page = await curl(lab, "srv", "http://127.0.0.1/", ["--compressed"]);
      assert.match(page, new RegExp(`<tr id="n-${id}" data-stage="online">`));
      assert.match(page, /<g class="segment m-server" data-segment="[^"]+">/);
      const refused = await curl(lab, "cli", `http://${SRV}/`, [
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
      ]);
      assert.equal(refused, "403");
      // A stop is not held up by the open stream: the daemon ends it, and curl sees a clean end.
      const t = performance.now();
      assert.equal((await stopDaemon(d)).code, 0);
      d = undefined;
      const stopMs = performance.now() - t;
      assert.ok(stopMs < 4000, `stop took ${stopMs} ms with a live stream open`);
      await lines.cancel().catch(() => {});
      assert.equal((await stream.status).code, 0, "curl saw the stream end cleanly");
      console.log(
        `status lab: stopped in ${
          Math.round(stopMs)
        } ms with a live stream open; ${id} booted; received ${
          sampleSum(before.m, "mesh_dhcp_received_total")
        } -> ${sampleSum(after.m, "mesh_dhcp_received_total")} DHCP, ${
          sampleSum(after.m, "mesh_tftp_bytes_total")
        } TFTP bytes, page ${page.length} B`,
      );
    } finally {
      if (d) await stopDaemon(d);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
