/**
 * Real HTTP clients judge the server: curl and busybox wget (what Alpine's
 * initramfs uses) fetch an overlay and a 10 MiB file from our server inside a
 * lab namespace; the bytes must be identical. A client without a lease for
 * the node's MAC is refused. Runs once per server engine. 200 concurrent curl
 * downloads all complete.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { HttpEngine } from "../../src/http/mod.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import { startLabServer } from "./_lab_server.ts";

const SKIP = labSkipReason(["curl", "busybox"]);
const NODE_MAC = "52:54:00:00:00:02";
const NODE_UUID = "7e570000-0000-4000-8000-000000000002";
const NODE_ID = nodeIdFor({ uuid: NODE_UUID }).id;

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

function bytesOf(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x;
    out[i + 1] = x >>> 8;
    out[i + 2] = x >>> 16;
    out[i + 3] = x >>> 24;
  }
  return out;
}

for (const engine of [HttpEngine.Sendfile, HttpEngine.Deno]) {
  Deno.test({
    name:
      `interop (${engine}): curl and busybox wget fetch overlay and a 10 MiB file byte-identical`,
    ignore: SKIP !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "mesh-http-clients-" });
      try {
        await Deno.mkdir(`${dir}/boot`);
        await Deno.mkdir(`${dir}/mirror`);
        await Deno.mkdir(`${dir}/ovl`);
        await Deno.mkdir(`${dir}/out`);
        const big = bytesOf(10 * 1024 * 1024, 42);
        const overlay = bytesOf(50_000, 7);
        await Deno.writeFile(`${dir}/boot/big.bin`, big);
        await Deno.writeFile(`${dir}/ovl/${NODE_ID}.tar.gz`, overlay);
        await using lab = await createLab("hcl", [
          { name: "srv", address: "10.77.0.1/24" },
          { name: "cli", address: "10.77.0.2/24" },
          { name: "oth", address: "10.77.0.3/24" },
        ]);
        const srv = await startLabServer(lab, "srv", {
          hostname: "10.77.0.1",
          port: 80,
          publicBase: "http://10.77.0.1",
          mirror: `${dir}/mirror`,
          boot: `${dir}/boot`,
          kernelPath: "/boot/vmlinuz",
          initrdPath: "/boot/initrd.gz",
          overlayAccess: "lease",
          overlays: {
            [NODE_ID]: {
              path: `${dir}/ovl/${NODE_ID}.tar.gz`,
              size: overlay.length,
              etag: '"ovl"',
            },
          },
          leases: { "10.77.0.2": NODE_MAC },
          log: true,
          engine,
        });
        const base = `http://10.77.0.1:${srv.port}`;
        // as iPXE does: the boot script request tells the server which node this is
        const script = await lab.exec("cli", [
          "curl",
          "-sSf",
          `${base}/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`,
        ]);
        assert.equal(script.code, 0, script.stderr);
        assert.ok(script.stdout.includes(`apkovl=http://10.77.0.1/apkovl/${NODE_ID}.tar.gz`));
        const fetches: [string, string[]][] = [
          ["curl-overlay", [
            "curl",
            "-sSf",
            "-o",
            `${dir}/out/curl-overlay`,
            `${base}/apkovl/${NODE_ID}.tar.gz`,
          ]],
          ["curl-big", ["curl", "-sSf", "-o", `${dir}/out/curl-big`, `${base}/boot/big.bin`]],
          ["wget-overlay", [
            "busybox",
            "wget",
            "-q",
            "-O",
            `${dir}/out/wget-overlay`,
            `${base}/apkovl/${NODE_ID}.tar.gz`,
          ]],
          ["wget-big", [
            "busybox",
            "wget",
            "-q",
            "-O",
            `${dir}/out/wget-big`,
            `${base}/boot/big.bin`,
          ]],
        ];
        for (const [name, cmd] of fetches) {
          const r = await lab.exec("cli", cmd, { timeoutMs: 60_000 });
          assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        }
        for (
          const [name, want] of [
            ["curl-overlay", overlay],
            ["wget-overlay", overlay],
            ["curl-big", big],
            ["wget-big", big],
          ] as const
        ) {
          assert.equal(sha(await Deno.readFile(`${dir}/out/${name}`)), sha(want), name);
        }
        // a resumed download (Range) with curl -C continues byte-exact
        await Deno.writeFile(`${dir}/out/partial`, big.subarray(0, 3_000_000));
        const resumed = await lab.exec("cli", [
          "curl",
          "-sSf",
          "-C",
          "-",
          "-o",
          `${dir}/out/partial`,
          `${base}/boot/big.bin`,
        ]);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.equal(sha(await Deno.readFile(`${dir}/out/partial`)), sha(big));
        // HEAD through curl -I: length announced, no body
        const head = await lab.exec("cli", ["curl", "-sSfI", `${base}/boot/big.bin`]);
        assert.match(head.stdout, new RegExp(`content-length: ${big.length}`, "i"));
        // the other host holds no lease for the node: refused, and busybox wget fails
        const other = await lab.exec("oth", [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          `${base}/apkovl/${NODE_ID}.tar.gz`,
        ]);
        assert.equal(other.stdout, "403");
        const otherWget = await lab.exec("oth", [
          "busybox",
          "wget",
          "-q",
          "-O",
          `${dir}/out/nope`,
          `${base}/apkovl/${NODE_ID}.tar.gz`,
        ]);
        assert.notEqual(otherWget.code, 0);
        // access log: one line per request, the node id on overlay fetches
        const access = srv.logs.filter((l) => l.msg === "request");
        const ovl = access.filter((l) =>
          l.path === `/apkovl/${NODE_ID}.tar.gz` && l.status === 200
        );
        assert.equal(ovl.length, 2);
        assert.ok(ovl.every((l) => l.nodeId === NODE_ID && l.ip === "10.77.0.2"));
        assert.ok(srv.logs.some((l) => l.msg === "overlay refused" && l.ip === "10.77.0.3"));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

for (const engine of [HttpEngine.Sendfile, HttpEngine.Deno]) {
  Deno.test({
    name: `interop (${engine}): 200 concurrent curl downloads all complete byte-exact`,
    ignore: SKIP !== null,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "mesh-http-many-" });
      try {
        await Deno.mkdir(`${dir}/boot`);
        await Deno.mkdir(`${dir}/mirror`);
        const file = bytesOf(1024 * 1024 + 3, 9);
        await Deno.writeFile(`${dir}/boot/f.bin`, file);
        await using lab = await createLab("hmc", [
          { name: "srv", address: "10.78.0.1/24" },
          { name: "cli", address: "10.78.0.2/24" },
        ]);
        const srv = await startLabServer(lab, "srv", {
          hostname: "10.78.0.1",
          port: 80,
          publicBase: "http://10.78.0.1",
          mirror: `${dir}/mirror`,
          boot: `${dir}/boot`,
          kernelPath: "/boot/vmlinuz",
          initrdPath: "/boot/initrd.gz",
          overlayAccess: "lease",
          overlays: {},
          leases: {},
          log: false,
          engine,
          // one address opens 200 connections on purpose here
          maxPerClient: 256,
        });
        // one curl process, 200 parallel transfers on 200 connections
        const urls = Array.from({ length: 200 }, (_, i) => [
          "-o",
          `/dev/null`,
          `http://10.78.0.1:${srv.port}/boot/f.bin?n=${i}`,
        ]).flat();
        const r = await lab.exec("cli", [
          "curl",
          "-sS",
          "--parallel",
          "--parallel-max",
          "200",
          "--parallel-immediate",
          "-w",
          "%{http_code} %{size_download}\\n",
          ...urls,
        ], { timeoutMs: 120_000 });
        assert.equal(r.code, 0, r.stderr);
        const lines = r.stdout.trim().split("\n");
        assert.equal(lines.length, 200);
        assert.ok(
          lines.every((l) => l === `200 ${file.length}`),
          lines.find((l) => l !== `200 ${file.length}`),
        );
        // and the content is right (one more, to a file)
        const one = await lab.exec("cli", [
          "curl",
          "-sSf",
          "-o",
          `${dir}/one`,
          `http://10.78.0.1:${srv.port}/boot/f.bin`,
        ]);
        assert.equal(one.code, 0, one.stderr);
        assert.equal(sha(await Deno.readFile(`${dir}/one`)), sha(file));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
