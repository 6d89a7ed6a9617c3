/**
 * Real clients against our server in a network namespace: tftp-hpa `tftp`,
 * `atftp` (blksize, windowsize), `curl tftp://` (--tftp-blksize) and busybox
 * `tftp` (-b). Every file must arrive byte-identical (sha256 compared).
 */
import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { sha256File, startOurServer, writeTestFile } from "./lab_util.ts";

const CLIENTS = ["tftp", "atftp", "curl", "busybox"];
const SRV = "10.80.0.1";
const MiB = 1024 * 1024;

type Client = (name: string, out: string, port: number) => string[];
const clients: Record<string, Client> = {
  "tftp-hpa": (
    name,
    out,
    port,
  ) => ["tftp", SRV, String(port), "-m", "binary", "-c", "get", name, out],
  "atftp blksize 1468 windowsize 8": (name, out, port) => [
    "atftp",
    "-g",
    "-r",
    name,
    "-l",
    out,
    "--option",
    "blksize 1468",
    "--option",
    "windowsize 8",
    SRV,
    String(port),
  ],
  "curl --tftp-blksize 1468": (name, out, port) => [
    "curl",
    "-sS",
    "--tftp-blksize",
    "1468",
    "-o",
    out,
    `tftp://${SRV}:${port}/${name}`,
  ],
  "busybox tftp -b 1468": (name, out, port) => [
    "busybox",
    "tftp",
    "-g",
    "-r",
    name,
    "-l",
    out,
    "-b",
    "1468",
    SRV,
    String(port),
  ],
};

Deno.test({
  name: "interop: tftp-hpa, atftp, curl and busybox fetch 0 B to 100 MiB byte-identical",
  ignore: labSkipReason(CLIENTS) !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createLab("tftp", [
      { name: "srv", address: `${SRV}/24` },
      { name: "cli", address: "10.80.0.2/24" },
    ]);
    const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-interop-" });
    try {
      const root = `${dir}/root`;
      await Deno.mkdir(root);
      const sizes: Record<string, number> = {
        "zero.bin": 0,
        "b511.bin": 511,
        "b512.bin": 512,
        "b513.bin": 513,
        "one.bin": MiB,
        "big.bin": 100 * MiB,
      };
      const sums: Record<string, string> = {};
      for (const [name, size] of Object.entries(sizes)) {
        await writeTestFile(`${root}/${name}`, size);
        sums[name] = await sha256File(`${root}/${name}`);
      }
      const server = await startOurServer(lab, "srv", { root, hostname: SRV, port: 69 });
      for (const [label, cmd] of Object.entries(clients)) {
        for (const name of Object.keys(sizes)) {
          // 100 MiB: the 512-byte client crosses the 65535-block rollover at 32 MB,
          // the 1468-byte clients at 93 MB.
          // curl 7.88 fails every 0-byte TFTP download with "getpeername() failed
          // errno 107", against tftpd-hpa as well: a client bug, not ours.
          if (name === "zero.bin" && label.startsWith("curl")) continue;
          const out = `${dir}/${label.split(" ")[0]}-${name}`;
          const r = await lab.exec("cli", cmd(name, out, server.port), {
            // 100 MiB lock-step is throughput-bound: slow on a loaded machine
            timeoutMs: name === "big.bin" ? 600_000 : 120_000,
          });
          assert.equal(r.code, 0, `${label} ${name}: ${r.stderr}`);
          assert.equal(await sha256File(out), sums[name], `${label} ${name}`);
          await Deno.remove(out);
        }
      }
      // Every client's 100 MiB transfer completed, as the server saw it too.
      const big = server.transfers.filter((t) => t.file === "big.bin" && t.ok);
      assert.equal(
        big.length,
        Object.keys(clients).length,
        "the server reported each 100 MiB transfer",
      );
      assert.ok(big.every((t) => t.bytes === 100 * MiB), JSON.stringify(big.map((t) => t.bytes)));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
