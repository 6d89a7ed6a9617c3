/**
 * 5% loss and 5% duplication on both ends of the link: every real client
 * still gets every file byte-identical.
 *
 * This kernel has no sch_netem, so the impairment is netfilter inside each
 * namespace: `statistic --mode random` + DROP on INPUT for loss (a DROP on
 * OUTPUT would make sendto fail with EPERM instead of losing the packet) and
 * + TEE (a clone sent to the peer itself) for duplication. Rule counters
 * prove both happened.
 */
import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { sha256File, startOurServer, writeTestFile } from "./lab_util.ts";

const SRV = "10.81.0.1";

Deno.test({
  name: "loss: 5% loss + 5% duplication, all clients complete byte-identical",
  ignore: labSkipReason(["iptables", "tftp", "atftp", "curl", "busybox"]) !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const CLI = "10.81.0.2";
    await using lab = await createLab("tftpl", [
      { name: "srv", address: `${SRV}/24` },
      { name: "cli", address: `${CLI}/24` },
    ]);
    for (const [host, peer] of [["srv", CLI], ["cli", SRV]] as const) {
      const random = ["-p", "udp", "-m", "statistic", "--mode", "random", "--probability", "0.05"];
      for (
        const rule of [
          ["-A", "INPUT", ...random, "-j", "DROP"],
          [
            "-t",
            "mangle",
            "-A",
            "POSTROUTING",
            "-d",
            peer,
            ...random,
            "-j",
            "TEE",
            "--gateway",
            peer,
          ],
        ]
      ) {
        const r = await lab.exec(host, ["iptables", ...rule]);
        assert.equal(r.code, 0, r.stderr);
      }
    }
    const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-loss-" });
    try {
      const root = `${dir}/root`;
      await Deno.mkdir(root);
      await writeTestFile(`${root}/f.bin`, 300 * 1024 + 7);
      const sum = await sha256File(`${root}/f.bin`);
      // A short server timeout keeps the test quick (the link RTT is tens of µs);
      // curl asks for timeout=6 s, which would stall 6 s per lost packet. Many
      // retries keep it patient: on a loaded machine a client can go 250 ms
      // (5 × 50 ms) without a turn on a core, and the server must not give up.
      const server = await startOurServer(lab, "srv", {
        root,
        hostname: SRV,
        port: 69,
        timeoutMs: 50,
        retries: 60,
        honorClientTimeout: false,
      });
      const p = String(server.port);
      const runs: Record<string, (out: string) => string[]> = {
        "tftp-hpa": (out) => ["tftp", SRV, p, "-m", "binary", "-c", "get", "f.bin", out],
        "atftp": (out) => [
          "atftp",
          "-g",
          "-r",
          "f.bin",
          "-l",
          out,
          "--option",
          "blksize 1468",
          "--option",
          "windowsize 8",
          SRV,
          p,
        ],
        "curl": (
          out,
        ) => ["curl", "-sS", "--tftp-blksize", "1468", "-o", out, `tftp://${SRV}:${p}/f.bin`],
        "busybox": (
          out,
        ) => ["busybox", "tftp", "-g", "-r", "f.bin", "-l", out, "-b", "1468", SRV, p],
      };
      for (const [label, cmd] of Object.entries(runs)) {
        const out = `${dir}/${label}.out`;
        const full = cmd(out);
        let r = await lab.exec("cli", full, { timeoutMs: 90_000 });
        // atftp 0.8 aborts when a duplicated OACK arrives after its ACK 0
        // ("unexpected OACK"): its own bug with duplication, so it gets two
        // more tries; any other failure fails the test.
        for (let i = 0; i < 2 && /unexpected OACK/.test(r.stdout + r.stderr); i++) {
          r = await lab.exec("cli", full, { timeoutMs: 90_000 });
        }
        assert.equal(r.code, 0, `${label}: ${r.stdout} ${r.stderr}`);
        assert.equal(await sha256File(out), sum, label);
      }
      const retransmits = server.transfers.reduce((n, t) => n + Number(t.retransmits ?? 0), 0);
      assert.ok(retransmits > 0, "loss was real: the server had to retransmit");
      for (const host of ["srv", "cli"]) {
        const drops = await lab.exec(host, ["iptables", "-L", "INPUT", "-v", "-n", "-x"]);
        const dups = await lab.exec(host, [
          "iptables",
          "-t",
          "mangle",
          "-L",
          "POSTROUTING",
          "-v",
          "-n",
          "-x",
        ]);
        const count = (text: string, target: string) =>
          Number(text.split("\n").find((l) => l.includes(target))?.trim().split(/\s+/)[0] ?? 0);
        assert.ok(count(drops.stdout, "DROP") > 0, `${host} dropped packets`);
        assert.ok(count(dups.stdout, "TEE") > 0, `${host} duplicated packets`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
