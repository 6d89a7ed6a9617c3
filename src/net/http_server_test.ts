/**
 * The sendfile engine at the protocol level, on 127.0.0.1 with a free port:
 * raw TCP clients send what real clients (and broken ones) send.
 */
import assert from "node:assert/strict";
import { markFileBody } from "./http_file_body.ts";
import {
  type HttpHandler,
  type HttpListenOptions,
  listenHttp,
  RefusalLog,
  type RefusalSummary,
} from "./http_server.ts";

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

async function withServer(
  handler: HttpHandler,
  fn: (port: number, srv: ReturnType<typeof listenHttp>) => Promise<void>,
  opts: Partial<HttpListenOptions> = {},
): Promise<void> {
  const ac = new AbortController();
  const srv = listenHttp(handler, { hostname: "127.0.0.1", port: 0, signal: ac.signal, ...opts });
  try {
    await fn(srv.addr.port, srv);
  } finally {
    ac.abort();
    await srv.finished;
  }
}

/** Sends `text` and reads until the server closes (bounded: 10 s, then the test fails). */
async function exchange(port: number, text: string | Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    await conn.write(
      typeof text === "string" ? Uint8Array.from(text, (c) => c.charCodeAt(0)) : text,
    );
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return chunks.map((c) => dec.decode(c)).join("");
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

const hello: HttpHandler = (req, info) => {
  const url = new URL(req.url);
  return new Response(`hello ${req.method} ${url.pathname} from ${info.remoteAddr.hostname}\n`, {
    headers: { "content-type": "text/plain" },
  });
};

Deno.test("http server: malformed requests get 4xx, are counted, and the server keeps serving", async () => {
  const corpus: [string, number][] = [
    ["GET /\r\n\r\n", 400],
    ["GARBAGE\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505],
    ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000000\r\n\r\n", 413],
    ["GET / HTTP/1.1\r\nHost: a\r\nX: " + "y".repeat(20_000) + "\r\n\r\n", 431],
    ["CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400], // a method fetch() refuses
    ["GET http://[bad HTTP/1.1\r\nHost: a\r\n\r\n", 400],
    ["\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400],
  ];
  await withServer(hello, async (port, srv) => {
    for (const [text, status] of corpus) {
      const reply = await exchange(port, text);
      assert.match(reply, new RegExp(`^HTTP/1\\.1 ${status} `), JSON.stringify(text));
      assert.match(reply, /connection: close/i);
    }
    assert.equal(srv.stats.malformed, corpus.length);
    const ok = await exchange(port, "GET /after HTTP/1.0\r\n\r\n");
    assert.match(ok, /^HTTP\/1\.1 200 OK/);
    assert.ok(ok.endsWith("hello GET /after from 127.0.0.1\n"));
  });
});

Deno.test("http server: keep-alive carries several requests, pipelined and one by one", async () => {
  await withServer(hello, async (port, srv) => {
    const pipelined = await exchange(
      port,
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n" +
        "HEAD /3 HTTP/1.1\r\nHost: a\r\n\r\nGET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    );
    assert.equal(pipelined.match(/HTTP\/1\.1 200 OK/g)?.length, 4);
    assert.ok(pipelined.includes("hello GET /1"));
    assert.ok(pipelined.includes("hello GET /2"));
    assert.ok(!pipelined.includes("hello HEAD /3"), "HEAD has no body");
    assert.ok(pipelined.endsWith("hello GET /4 from 127.0.0.1\n"));
    // one by one on one connection
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buf = new Uint8Array(4096);
    for (let i = 0; i < 3; i++) {
      await conn.write(enc.encode(`GET /seq${i} HTTP/1.1\r\nHost: a\r\n\r\n`));
      let got = "";
      while (!got.includes(`/seq${i} from`)) {
        const n = await conn.read(buf);
        assert.notEqual(n, null, "server closed a kept-alive connection");
        got += dec.decode(buf.subarray(0, n!));
      }
    }
    conn.close();
    assert.equal(srv.stats.accepted, 2);
  });
});

Deno.test("http server: request bodies by Content-Length (and 100-continue) reach the handler", async () => {
  const echo: HttpHandler = async (req) => new Response(`got ${(await req.text()).length}`);
  await withServer(echo, async (port) => {
    const r = await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "x".repeat(5000) });
    assert.equal(await r.text(), "got 5000");
    const cont = await exchange(
      port,
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc",
    );
    assert.match(cont, /^HTTP\/1\.1 (100 Continue\r\n\r\nHTTP\/1\.1 )?200 OK/);
    assert.ok(cont.endsWith("got 3"));
  });
});

Deno.test("http server: bodies of unknown length: chunked for 1.1, close-delimited for 1.0", async () => {
  const big = new Uint8Array(300_000).map((_, i) => i % 251);
  const streaming: HttpHandler = () => {
    let left = 3;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(c) {
          if (left-- === 0) return c.close();
          c.enqueue(big.subarray(0, 100_000 * (3 - left)).subarray(100_000 * (2 - left)));
        },
      }),
    );
  };
  await withServer(streaming, async (port) => {
    const r = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(r.headers.get("transfer-encoding"), "chunked");
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), big);
    const old = await exchange(port, "GET / HTTP/1.0\r\n\r\n");
    const body = old.slice(old.indexOf("\r\n\r\n") + 4);
    assert.equal(body.length, big.length);
    assert.match(old, /connection: close/i);
  });
});

Deno.test("http server: a handler that throws gives 500, later requests still work", async () => {
  let n = 0;
  const flaky: HttpHandler = () => {
    if (n++ === 0) throw new Error("boom");
    return new Response("fine");
  };
  await withServer(flaky, async (port) => {
    assert.equal(
      await fetch(`http://127.0.0.1:${port}/`).then(async (
        r,
      ) => (await r.body?.cancel(), r.status)),
      500,
    );
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "fine");
  });
});

Deno.test("http server: idle and header timeouts close the connection", async () => {
  await withServer(hello, async (port, srv) => {
    // a kept-alive connection with no next request is closed after the idle timeout
    const idle = await exchange(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.match(idle, /^HTTP\/1\.1 200 OK/);
    // a head that never completes is dropped after the header timeout, without an answer
    const slow = await exchange(port, "GET / HTTP/1.1\r\nHost: a\r\n");
    assert.equal(slow, "");
    assert.equal(srv.stats.timeouts, 2);
  }, { idleTimeoutMs: 1000, headerTimeoutMs: 1000 });
});

/** Opens two connections and waits (bounded) until the server has accepted both. */
async function holdTwo(port: number, srv: ReturnType<typeof listenHttp>): Promise<Deno.TcpConn[]> {
  const held = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  for (let i = 0; i < 100 && srv.stats.accepted < 2; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return held;
}

Deno.test("http server: connections over the limit are answered 503", async () => {
  await withServer(hello, async (port, srv) => {
    const held = await holdTwo(port, srv);
    const third = await exchange(port, "GET / HTTP/1.0\r\n\r\n");
    assert.match(third, /^HTTP\/1\.1 503 /);
    assert.equal(srv.stats.refused, 1);
    assert.equal(srv.stats.refusedGlobal, 1);
    assert.equal(srv.stats.refusedPerClient, 0);
    for (const c of held) c.close();
  }, { maxConnections: 2 });
});

Deno.test("http server: at the limit, a kept-alive connection idle between requests makes room", async () => {
  await withServer(hello, async (port, srv) => {
    const held: Deno.TcpConn[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(enc.encode("GET /first HTTP/1.1\r\nHost: a\r\n\r\n"));
      const buf = new Uint8Array(4096);
      const n = await c.read(buf);
      assert.ok(
        n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("HTTP/1.1 200"),
      );
      held.push(c);
    }
    const third = await exchange(port, "GET /third HTTP/1.0\r\n\r\n");
    assert.ok(third.endsWith("hello GET /third from 127.0.0.1\n"), third);
    assert.equal(srv.stats.reclaimed, 1);
    assert.equal(srv.stats.refused, 0);
    for (const c of held) c.close();
  }, { maxConnections: 2 });
});

Deno.test("http server: connections over the per-client limit are refused, and a freed slot is reused", async () => {
  await withServer(hello, async (port, srv) => {
    const held = await holdTwo(port, srv);
    const third = await exchange(port, "GET / HTTP/1.0\r\n\r\n");
    assert.match(third, /^HTTP\/1\.1 503 /);
    assert.equal(srv.stats.refusedPerClient, 1);
    assert.equal(srv.stats.refusedGlobal, 0);
    assert.equal(srv.stats.refused, 1);
    // a closed connection gives its slot back to the address
    held.pop()!.close();
    for (let i = 0; i < 100 && srv.stats.active > 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const fourth = await exchange(port, "GET /again HTTP/1.0\r\n\r\n");
    assert.ok(fourth.endsWith("hello GET /again from 127.0.0.1\n"), fourth);
    assert.equal(srv.stats.refused, 1);
    for (const c of held) c.close();
  }, { maxConnections: 10, maxPerClient: 2 });
});

Deno.test("http server: the header deadline holds for a client that keeps dribbling bytes", async () => {
  await withServer(hello, async (port, srv) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let closed = false;
    const reply = (async () => {
      const buf = new Uint8Array(4096);
      let got = 0;
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        got += n;
      }
      closed = true;
      return got;
    })();
    // a head that never ends, a byte far more often than the deadline sweep;
    // bounded: 400 bytes, i.e. many times the header timeout
    const head = enc.encode("GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + "a".repeat(400));
    let sent = 0;
    while (!closed && sent < 400) {
      const ok = await conn.write(head.subarray(sent, sent + 1)).then(() => true, () => false);
      if (!ok) break;
      sent++;
      await new Promise((r) => setTimeout(r, 40));
    }
    conn.close();
    assert.equal(await reply, 0, "no answer to an unfinished head");
    assert.ok(sent < 400, "the server never closed the dribbling client");
    assert.equal(srv.stats.timeouts, 1);
  }, { headerTimeoutMs: 500 });
});

Deno.test("http server: refusal log lines are one per reason per window, with count and top address", () => {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextId = 1;
  const lines: RefusalSummary[] = [];
  const refusals = new RefusalLog((s) => lines.push(s), 10_000, {
    now: () => now,
    setTimer: (fn, ms) => {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id as unknown as ReturnType<typeof setTimeout>;
    },
    clearTimer: (id) => void timers.delete(id as unknown as number),
  });
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  // the first refusal is reported at once
  refusals.note("per_client", 0x0a000002);
  assert.deepEqual(lines, [
    { reason: "per_client", refused: 1, topIp: 0x0a000002, topIpRefused: 1 },
  ]);
  // a burst within the window: summed into one line at its end
  for (let i = 0; i < 1000; i++) {
    refusals.note("per_client", i % 10 === 0 ? 0x0a000003 : 0x0a000002);
  }
  refusals.note("global", 0x0a000009);
  assert.equal(lines.length, 2, "global has its own window");
  advance(9_999);
  assert.equal(lines.length, 2);
  advance(1);
  assert.deepEqual(lines[2], {
    reason: "per_client",
    refused: 1000,
    topIp: 0x0a000002,
    topIpRefused: 900,
  });
  // quiet: nothing more is logged and no timer is left
  advance(60_000);
  assert.equal(lines.length, 3);
  assert.equal(timers.size, 0);
  // after a quiet window the next one is reported at once again; close reports what is pending
  refusals.note("per_client", 0x0a000004);
  refusals.note("per_client", 0x0a000004);
  assert.equal(lines.length, 4);
  refusals.close();
  assert.equal(lines.length, 5);
  assert.equal(lines[4]!.refused, 1);
  assert.equal(timers.size, 0);
});

Deno.test("http server: a marked file goes out by sendfile; a client leaving mid-file is survived", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-http-sf-" });
  const path = `${dir}/big.bin`;
  const size = 24 * 1024 * 1024;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 997) data[i] = i & 0xff;
  await Deno.writeFile(path, data);
  const fileHandler: HttpHandler = async (req) => {
    const file = await Deno.open(path);
    const info = await file.stat();
    const start = new URL(req.url).searchParams.has("tail") ? size - 1000 : 0;
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    const body = file.readable;
    markFileBody(body, { path, start, length: size - start, dev: info.dev, ino: info.ino!, size });
    return new Response(body, { headers: { "content-length": String(size - start) } });
  };
  try {
    await withServer(fileHandler, async (port, srv) => {
      const whole = new Uint8Array(await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer());
      assert.equal(whole.length, size);
      assert.deepEqual(whole, data);
      const tail = new Uint8Array(
        await (await fetch(`http://127.0.0.1:${port}/?tail`)).arrayBuffer(),
      );
      assert.deepEqual(tail, data.subarray(size - 1000));
      assert.equal(srv.stats.sendfileBytes, size + 1000);
      // read a little of the file, then hang up
      for (let i = 0; i < 3; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        const buf = new Uint8Array(65536);
        await conn.read(buf);
        conn.close();
      }
      for (let i = 0; i < 200 && srv.stats.aborted < 3; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(srv.stats.aborted, 3);
      const again = await fetch(`http://127.0.0.1:${port}/?tail`);
      assert.equal((await again.arrayBuffer()).byteLength, 1000);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("http server: abort stops accepting and resolves finished", async () => {
  const ac = new AbortController();
  const srv = listenHttp(hello, { hostname: "127.0.0.1", port: 0, signal: ac.signal });
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: srv.addr.port });
  ac.abort();
  await srv.finished;
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: srv.addr.port }));
  // the idle connection was closed by the server: an EOF, or a reset when
  // the close raced the kernel's handling of the connection, both say so
  const got = await idle.read(new Uint8Array(16)).catch((e) => {
    if (e instanceof Deno.errors.ConnectionReset) return null;
    throw e;
  });
  assert.equal(got, null);
  idle.close();
});

for (const offloadThreads of [0, 4]) {
  Deno.test(`http server: a client that stops reading is dropped after the send timeout, and shutdown ends a stalled transfer (offload ${offloadThreads})`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "mesh-http-stall-" });
    const path = `${dir}/big.bin`;
    const size = 64 * 1024 * 1024;
    const f = await Deno.open(path, { write: true, create: true });
    await f.truncate(size);
    f.close();
    const fileHandler: HttpHandler = async () => {
      const file = await Deno.open(path);
      const info = await file.stat();
      const body = file.readable;
      markFileBody(body, { path, start: 0, length: size, dev: info.dev, ino: info.ino!, size });
      return new Response(body, { headers: { "content-length": String(size) } });
    };
    const stall = async (port: number) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
      await conn.read(new Uint8Array(1000));
      return conn; // never read again
    };
    try {
      await withServer(fileHandler, async (port, srv) => {
        const conn = await stall(port);
        for (let i = 0; i < 400 && srv.stats.timeouts < 1; i++) {
          await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal(srv.stats.timeouts, 1);
        assert.equal(srv.stats.aborted, 1);
        conn.close();
      }, { sendTimeoutMs: 500, offloadThreads });
      // shutdown with a stalled transfer in flight: finished resolves after the grace period
      const ac = new AbortController();
      const srv = listenHttp(fileHandler, {
        hostname: "127.0.0.1",
        port: 0,
        signal: ac.signal,
        graceMs: 200,
        offloadThreads,
      });
      const conn = await stall(srv.addr.port);
      ac.abort();
      let bound: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        srv.finished.then(() => true),
        new Promise<boolean>((r) => (bound = setTimeout(() => r(false), 20_000))),
      ]);
      clearTimeout(bound);
      assert.ok(ended, "server did not finish with a stalled client");
      conn.close();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("http server: 300 connections of random bytes never stop it", async () => {
  await withServer(hello, async (port, srv) => {
    let x = 99;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const base = enc.encode("GET /fuzz HTTP/1.1\r\nHost: a\r\nX-Pad: abc\r\n\r\n");
    const one = async (i: number) => {
      const b = i % 3 === 0
        ? Uint8Array.from({ length: 1 + (rnd() % 300) }, () => rnd() & 0xff)
        : base.map((v) => (rnd() % 8 === 0 ? rnd() & 0xff : v));
      // half of the clients hang up without waiting for an answer
      if (i % 2 === 0) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(b).catch(() => {});
        c.close();
      } else {
        await exchange(port, b.slice(0, b.length)).catch(() => "");
      }
    };
    for (let i = 0; i < 300; i += 30) {
      await Promise.all(Array.from({ length: 30 }, (_, k) => one(i + k)));
    }
    const ok = await exchange(port, "GET /still HTTP/1.0\r\n\r\n");
    assert.ok(ok.endsWith("hello GET /still from 127.0.0.1\n"));
    assert.ok(srv.stats.malformed > 0);
  }, { headerTimeoutMs: 1000 });
});
