/**
 * Both server engines ("sendfile" and "deno") run the real app on 127.0.0.1
 * with a free port and must answer alike: Range (sendfile offsets), 304 and
 * HEAD without a body, keep-alive, a 1 GiB sparse file sent whole, and a
 * client leaving mid-file.
 */
import assert from "node:assert/strict";
import { createApp, type HttpApp, HttpEngine, serveHttp } from "../../src/http/mod.ts";
import { listenHttp } from "../../src/net/mod.ts";
import { MemoryCatalog, MemoryLeases, MemoryRegistry } from "../../src/testing/http_fakes.ts";
import { hasCommand } from "../lib/netns.ts";

const dec = new TextDecoder("latin1");
const enc = new TextEncoder();
const SIZE = 3 * 1024 * 1024 + 17;

function pattern(size: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(size);
  let x = 7;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function makeApp(dir: string): Promise<{ app: HttpApp; data: Uint8Array }> {
  await Deno.mkdir(`${dir}/boot`);
  await Deno.mkdir(`${dir}/mirror`);
  const data = pattern(SIZE);
  await Deno.writeFile(`${dir}/boot/big.bin`, data);
  await Deno.writeTextFile(`${dir}/boot/small.txt`, "small file\n");
  const app = createApp({
    registry: new MemoryRegistry(),
    catalog: new MemoryCatalog(new Map(), new Map()),
    leases: new MemoryLeases(),
    config: {
      publicBase: "http://127.0.0.1",
      alpineBranch: "v3.20",
      kernelPath: "/boot/vmlinuz",
      initrdPath: "/boot/initrd",
      modloopPath: "/boot/modloop",
      repoPath: "/alpine/v3.20/main",
      overlayAccess: "lease",
    },
    roots: { mirror: `${dir}/mirror`, boot: `${dir}/boot` },
  });
  return { app, data };
}

async function withApp(
  engine: HttpEngine,
  fn: (base: string, port: number, dir: string, data: Uint8Array) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-http-engine-" });
  const { app, data } = await makeApp(dir);
  const ac = new AbortController();
  const running = serveHttp(app, { hostname: "127.0.0.1", port: 0, signal: ac.signal, engine });
  try {
    await fn(`http://127.0.0.1:${running.addr.port}`, running.addr.port, dir, data);
  } finally {
    ac.abort();
    await running.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

/** Raw request(s); reads until the server closes. */
async function raw(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 20_000);
  try {
    await conn.write(enc.encode(text));
    let out = "";
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return out;
      out += dec.decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

for (const engine of [HttpEngine.Sendfile, HttpEngine.Deno]) {
  Deno.test(`engine ${engine}: ranges (first byte, suffix, middle, open end) are byte-exact`, async () => {
    await withApp(engine, async (base, _port, _dir, data) => {
      const cases: [string, number, number][] = [
        ["bytes=0-0", 0, 0],
        ["bytes=-500", SIZE - 500, SIZE - 1],
        ["bytes=1000-1999999", 1000, 1999999],
        ["bytes=3000000-", 3000000, SIZE - 1],
      ];
      for (const [range, start, end] of cases) {
        const r = await fetch(`${base}/boot/big.bin`, { headers: { range } });
        assert.equal(r.status, 206, range);
        assert.equal(r.headers.get("content-range"), `bytes ${start}-${end}/${SIZE}`);
        assert.equal(r.headers.get("content-length"), String(end - start + 1));
        assert.deepEqual(new Uint8Array(await r.arrayBuffer()), data.subarray(start, end + 1));
      }
      const whole = await fetch(`${base}/boot/big.bin`);
      assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), data);
      const bad = await fetch(`${base}/boot/big.bin`, { headers: { range: `bytes=${SIZE}-` } });
      assert.equal(bad.status, 416);
      await bad.body?.cancel();
    });
  });

  Deno.test(`engine ${engine}: 304 and HEAD carry no body, keep-alive continues after them`, async () => {
    await withApp(engine, async (base, port) => {
      const first = await fetch(`${base}/boot/big.bin`, { method: "HEAD" });
      const etag = first.headers.get("etag")!;
      assert.equal(first.headers.get("content-length"), String(SIZE));
      // three answers on one connection: the bodies of 304 and HEAD would corrupt the third
      const reply = await raw(
        port,
        `GET /boot/big.bin HTTP/1.1\r\nHost: a\r\nIf-None-Match: ${etag}\r\n\r\n` +
          "HEAD /boot/big.bin HTTP/1.1\r\nHost: a\r\n\r\n" +
          "GET /boot/small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      const parts = reply.split(/(?=HTTP\/1\.1 )/);
      assert.equal(parts.length, 3, reply);
      assert.match(parts[0]!, /^HTTP\/1\.1 304 /);
      assert.ok(parts[0]!.endsWith("\r\n\r\n"));
      assert.match(parts[1]!, /^HTTP\/1\.1 200 /);
      assert.match(parts[1]!, new RegExp(`content-length: ${SIZE}\r\n`, "i"));
      assert.ok(parts[1]!.endsWith("\r\n\r\n"));
      assert.match(parts[2]!, /^HTTP\/1\.1 200 /);
      assert.ok(parts[2]!.endsWith("\r\n\r\nsmall file\n"));
    });
  });

  Deno.test({
    name: `engine ${engine}: curl reuses one connection; a 1 GiB sparse file arrives whole`,
    ignore: !hasCommand("curl"),
    async fn() {
      await withApp(engine, async (base, _port, dir) => {
        const f = await Deno.open(`${dir}/boot/sparse.img`, { write: true, create: true });
        await f.truncate(1024 * 1024 * 1024);
        f.close();
        const out = await new Deno.Command("curl", {
          args: [
            "-sS",
            "-o",
            "/dev/null",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{num_connects}\n",
            `${base}/boot/sparse.img`,
            `${base}/boot/small.txt`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.equal(out.code, 0, dec.decode(out.stderr));
        const lines = dec.decode(out.stdout).trim().split("\n");
        assert.equal(lines[0], `200 ${1024 * 1024 * 1024} 1`);
        assert.equal(lines[1], "200 11 0", "second transfer reused the connection");
      });
    },
  });

  Deno.test(`engine ${engine}: clients leaving mid-file do not disturb the server`, async () => {
    await withApp(engine, async (base, port, _dir, data) => {
      for (let i = 0; i < 5; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(enc.encode("GET /boot/big.bin HTTP/1.1\r\nHost: a\r\n\r\n"));
        await conn.read(new Uint8Array(1000));
        conn.close();
      }
      const r = await fetch(`${base}/boot/big.bin`);
      assert.deepEqual(new Uint8Array(await r.arrayBuffer()), data);
    });
  });
}

Deno.test("engine sendfile: the app's file responses keep their mark through Hono (sent by sendfile)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-http-mark-" });
  const { app, data } = await makeApp(dir);
  const ac = new AbortController();
  const srv = listenHttp((req, info) => app.fetch(req, info), {
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
  });
  try {
    const base = `http://127.0.0.1:${srv.addr.port}`;
    assert.deepEqual(
      new Uint8Array(await (await fetch(`${base}/boot/big.bin`)).arrayBuffer()),
      data,
    );
    const r = await fetch(`${base}/boot/big.bin`, { headers: { range: "bytes=10-19" } });
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), data.subarray(10, 20));
    assert.equal(srv.stats.sendfileBytes, SIZE + 10);
    // small files come from memory, as bytes
    assert.equal(await (await fetch(`${base}/boot/small.txt`)).text(), "small file\n");
    assert.equal(srv.stats.sendfileBytes, SIZE + 10);
  } finally {
    ac.abort();
    await srv.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
