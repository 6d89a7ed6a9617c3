/**
 * Connection limits and timeouts of the sendfile engine against real
 * clients in a lab: one address opening 1,500 idle connections (and
 * reconnecting whenever one is closed) gets at most its per-client share,
 * while a second address is served /healthz and a file download
 * byte-identical; the refusals show in /metrics and in the (rate-limited)
 * log. A slowloris client sending one header byte per second is closed at the
 * header deadline, and an idle kept-alive connection at the idle timeout.
 *
 * This file is also the helper processes it starts (in the lab namespaces):
 * `deno run conn_limits_test.ts server|flood|slow <json>`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { logLinesToStdout } from "./_server.ts";
import { createApp, serveHttp } from "../../src/http/mod.ts";
import { MemoryCatalog, MemoryLeases, MemoryRegistry } from "../../src/testing/http_fakes.ts";
import { TextLineStream } from "../lib/lines.ts";
import { createLab, type Lab, labSkipReason } from "../lib/netns.ts";

const SKIP = labSkipReason(["curl"]);
const SELF = new URL(import.meta.url).pathname;
const enc = new TextEncoder();

interface ServerArgs {
  readonly hostname: string;
  readonly boot: string;
  readonly mirror: string;
  readonly maxPerClient?: number;
  readonly headerTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
}

interface FloodArgs {
  readonly hostname: string;
  readonly port: number;
  /** Connections kept in flight: each one is reopened when the server closes it. */
  readonly slots: number;
  /** The flood stops reconnecting once this file exists. */
  readonly stopFile: string;
}

interface FloodResult {
  readonly opened: number;
  readonly connectFailed: number;
  /** Closed by the server (end of stream or reset): all of them, in the end. */
  readonly closedByServer: number;
  /** Still open when the flood gave up waiting; closed by the flood itself. */
  readonly closedByUs: number;
  /** Connections that got an answer: the short 503 of a refusal. */
  readonly answered503: number;
}

interface SlowArgs {
  readonly hostname: string;
  readonly port: number;
  /** The client gives up after this long (the test then fails). */
  readonly capMs: number;
}

interface SlowResult {
  /** ms from connect to the server's close, -1 when it did not close within capMs. */
  readonly slowClosedAfterMs: number;
  readonly slowBytesSent: number;
  readonly slowBytesReceived: number;
  /** ms from the end of the answer to the server's close, -1 as above. */
  readonly idleClosedAfterMs: number;
  readonly idleAnswer: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Helper process: the app with in-memory fakes; prints `LISTENING <port>`, then `LOG <json>` lines. */
async function serverMain(a: ServerArgs): Promise<void> {
  await logLinesToStdout();
  const app = createApp({
    registry: new MemoryRegistry(),
    catalog: new MemoryCatalog(),
    leases: new MemoryLeases(),
    config: {
      publicBase: `http://${a.hostname}`,
      alpineBranch: "v3.20",
      kernelPath: "/boot/vmlinuz",
      initrdPath: "/boot/initrd.gz",
      modloopPath: "/boot/modloop-lts",
      repoPath: "/alpine/v3.20/main",
      overlayAccess: "lease",
    },
    roots: { mirror: a.mirror, boot: a.boot },
  });
  const running = serveHttp(app, {
    hostname: a.hostname,
    port: 80,
    engine: "sendfile",
    maxPerClient: a.maxPerClient,
    headerTimeoutMs: a.headerTimeoutMs,
    idleTimeoutMs: a.idleTimeoutMs,
  });
  Deno.stdout.writeSync(enc.encode(`LISTENING ${running.addr.port}\n`));
  await running.finished;
}

/** Reads until the peer closes; the bytes received. Rejects only when we close it ourselves. */
async function readToEnd(conn: Deno.Conn, first?: (b: Uint8Array) => void): Promise<number> {
  const buf = new Uint8Array(4096);
  let got = 0;
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) return got;
      throw e;
    }
    if (n === null) return got;
    if (got === 0) first?.(buf.subarray(0, n));
    got += n;
  }
}

/**
 * Helper process: keeps `slots` idle connections in flight (each reopened a
 * moment after the server closes it) until the stop file appears, then waits
 * for the server to close what is left. Prints `HOLDING` once every slot's
 * first connect has settled, then `RESULT <json>`. Bounded: 60 s of flooding,
 * 30 s of waiting, 40,000 connects.
 */
async function floodMain(a: FloodArgs): Promise<void> {
  const floodEnd = Date.now() + 60_000;
  let stopping = false;
  let connects = 0;
  let opened = 0, connectFailed = 0, closedByServer = 0, closedByUs = 0, answered503 = 0;
  const open = new Set<Deno.Conn>();
  let firstRound = a.slots;
  let holding!: () => void;
  const allHolding = new Promise<void>((r) => (holding = r));
  const settledOnce = () => {
    if (--firstRound === 0) holding();
  };
  const slot = async () => {
    let first = true;
    while (!stopping && Date.now() < floodEnd && connects < 40_000) {
      connects++;
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: a.hostname, port: a.port });
        opened++;
      } catch {
        connectFailed++;
        if (first) settledOnce();
        first = false;
        await sleep(500);
        continue;
      }
      if (first) settledOnce();
      first = false;
      open.add(conn);
      const closedBy = await readToEnd(conn, (b) => {
        if (new TextDecoder().decode(b).startsWith("HTTP/1.1 503 ")) answered503++;
      }).then(() => "server", () => "us");
      open.delete(conn);
      if (closedBy === "server") closedByServer++;
      try {
        conn.close();
      } catch { /* closed by the drain below */ }
      // a persistent client: back after a pause (a hot loop would only measure the CPU)
      await sleep(1000);
    }
  };
  const slots = Array.from({ length: a.slots }, () => slot());
  await allHolding;
  Deno.stdout.writeSync(enc.encode(`HOLDING ${opened}\n`));
  for (let i = 0; i < 600 && !stopping; i++) {
    await sleep(100);
    stopping = await Deno.stat(a.stopFile).then(() => true, () => false);
  }
  stopping = true;
  // the server closes the accepted ones at its header deadline; give up after 30 s
  const drainEnd = Date.now() + 30_000;
  while (open.size > 0 && Date.now() < drainEnd) await sleep(100);
  for (const c of open) {
    closedByUs++;
    c.close();
  }
  await Promise.all(slots);
  const result: FloodResult = { opened, connectFailed, closedByServer, closedByUs, answered503 };
  Deno.stdout.writeSync(enc.encode(`RESULT ${JSON.stringify(result)}\n`));
}

/**
 * Helper process: a slowloris (a never-ending head, one byte per second) and
 * a kept-alive connection that goes quiet after one request, side by side.
 * Prints `RESULT <json>`.
 */
async function slowMain(a: SlowArgs): Promise<void> {
  const slow = (async () => {
    const conn = await Deno.connect({ hostname: a.hostname, port: a.port });
    const t0 = performance.now();
    let closedAt = -1;
    const received = readToEnd(conn).then((n) => {
      closedAt = performance.now();
      return n;
    });
    // never ends within the cap: one byte a second
    const head = enc.encode(
      `GET /healthz HTTP/1.1\r\nHost: ${a.hostname}\r\nX-Slow: ${"a".repeat(a.capMs / 1000)}`,
    );
    let sent = 0;
    while (closedAt < 0 && sent < head.length && performance.now() - t0 < a.capMs) {
      const ok = await conn.write(head.subarray(sent, sent + 1)).then(() => true, () => false);
      if (!ok) break;
      sent++;
      for (let i = 0; i < 10 && closedAt < 0; i++) await sleep(100);
    }
    if (closedAt < 0) conn.close();
    const got = await received.catch(() => 0);
    return { after: closedAt < 0 ? -1 : Math.round(closedAt - t0), sent, got };
  })();
  const idle = (async () => {
    const conn = await Deno.connect({ hostname: a.hostname, port: a.port });
    await conn.write(enc.encode(`GET /healthz HTTP/1.1\r\nHost: ${a.hostname}\r\n\r\n`));
    const buf = new Uint8Array(4096);
    let answer = "";
    while (!answer.endsWith("ok\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      answer += new TextDecoder().decode(buf.subarray(0, n));
    }
    const t0 = performance.now();
    const timer = setTimeout(() => conn.close(), a.capMs);
    let after = -1;
    try {
      await readToEnd(conn);
      after = Math.round(performance.now() - t0);
      conn.close();
    } catch { /* closed by the timer */ }
    clearTimeout(timer);
    return { after, answer };
  })();
  const [s, i] = await Promise.all([slow, idle]);
  const result: SlowResult = {
    slowClosedAfterMs: s.after,
    slowBytesSent: s.sent,
    slowBytesReceived: s.got,
    idleClosedAfterMs: i.after,
    idleAnswer: i.answer,
  };
  Deno.stdout.writeSync(enc.encode(`RESULT ${JSON.stringify(result)}\n`));
}

if (import.meta.main) {
  const [mode, json] = Deno.args;
  const args = JSON.parse(json!);
  if (mode === "server") await serverMain(args);
  else if (mode === "flood") await floodMain(args);
  else if (mode === "slow") await slowMain(args);
  else throw new Error(`unknown mode ${mode}`);
}

// ---------------------------------------------------------------- the tests

/** A helper process in a lab namespace, its stdout split into lines as they come. */
interface Helper {
  /** The next line starting with `prefix` (rest of the line); throws after `ms`. */
  next(prefix: string, ms: number): Promise<string>;
  /** Every line seen so far. */
  readonly lines: string[];
}

function startHelper(lab: Lab, host: string, mode: string, args: unknown): Helper {
  // the flood needs more descriptors than a default soft limit of 1024
  const child = lab.spawn(host, [
    "sh",
    "-c",
    'ulimit -n 8192 2>/dev/null; exec "$@"',
    "sh",
    Deno.execPath(),
    "run",
    "-A",
    "--cached-only",
    SELF,
    mode,
    JSON.stringify(args),
  ], { stdout: "piped", stderr: "inherit" });
  const lines: string[] = [];
  let seen = 0;
  let wake: () => void = () => {};
  let ended = false;
  (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    ).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      lines.push(value);
      wake();
    }
  })().catch(() => {}).finally(() => {
    ended = true;
    wake();
  });
  return {
    lines,
    async next(prefix, ms) {
      const end = Date.now() + ms;
      for (;;) {
        while (seen < lines.length) {
          const line = lines[seen++]!;
          if (line.startsWith(prefix)) return line.slice(prefix.length);
        }
        if (ended) throw new Error(`${mode} helper ended before "${prefix}"`);
        const left = end - Date.now();
        if (left <= 0) throw new Error(`${mode} helper: no "${prefix}" within ${ms} ms`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((r) => {
          wake = r;
          timer = setTimeout(r, Math.min(left, 1000));
        });
        clearTimeout(timer);
      }
    },
  };
}

function logsOf(h: Helper): Record<string, unknown>[] {
  return h.lines.filter((l) => l.startsWith("LOG ")).map((l) => JSON.parse(l.slice(4)));
}

/** Samples of one metric, keyed by their label text ("" without labels). */
function metric(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? "", Number(m[3]));
  }
  return out;
}

async function curl(lab: Lab, host: string, args: string[]): Promise<string> {
  const r = await lab.exec(host, ["curl", "-sS", "--max-time", "30", ...args], {
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, `curl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

Deno.test({
  name:
    "conn limits: 1,500 connections from one address leave another address served, refusals counted and logged",
  ignore: SKIP !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mesh-http-connlim-" });
    try {
      await Deno.mkdir(`${dir}/boot`);
      await Deno.mkdir(`${dir}/mirror`);
      const big = new Uint8Array(4 * 1024 * 1024 + 7);
      let x = 5;
      for (let i = 0; i < big.length; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        big[i] = x >>> 24;
      }
      await Deno.writeFile(`${dir}/boot/big.bin`, big);
      await using lab = await createLab("hcn", [
        { name: "srv", address: "10.79.0.1/24" },
        { name: "flood", address: "10.79.0.2/24" },
        { name: "good", address: "10.79.0.3/24" },
      ]);
      const startedAt = Date.now();
      // default per-client limit (64); a short header timeout so the held
      // connections end (and are reopened) while the test runs
      const server = startHelper(
        lab,
        "srv",
        "server",
        {
          hostname: "10.79.0.1",
          boot: `${dir}/boot`,
          mirror: `${dir}/mirror`,
          headerTimeoutMs: 3000,
        } satisfies ServerArgs,
      );
      const port = Number(await server.next("LISTENING ", 30_000));
      const base = `http://10.79.0.1:${port}`;
      const stopFile = `${dir}/stop-flood`;
      const flood = startHelper(
        lab,
        "flood",
        "flood",
        {
          hostname: "10.79.0.1",
          port,
          slots: 1500,
          stopFile,
        } satisfies FloodArgs,
      );
      await flood.next("HOLDING ", 90_000);

      // meanwhile, the other address, in rounds until the flood has been
      // closed and come back at least once (its held connections timed out and
      // were reopened, its refused ones were refused again); bounded: 20 rounds
      let reconnected = false;
      for (let round = 0; round < 20 && !reconnected; round++) {
        if (round > 0) await sleep(500);
        const health = await curl(lab, "good", ["-w", "%{http_code}", `${base}/healthz`]);
        assert.equal(health, "ok\n200", `round ${round}`);
        await Deno.remove(`${dir}/got.bin`).catch(() => {});
        await curl(lab, "good", ["-f", "-o", `${dir}/got.bin`, `${base}/boot/big.bin`]);
        assert.equal(sha(await Deno.readFile(`${dir}/got.bin`)), sha(big), `round ${round}`);
        const during = await curl(lab, "good", ["-f", `${base}/metrics`]);
        // open now: the flood's share, plus at most this address's three connections
        const active = metric(during, "mesh_http_connections_active").get("")!;
        assert.ok(active <= 64 + 3, `round ${round}: ${active} connections open`);
        const refused = metric(during, "mesh_http_connections_refused_total");
        // the flood's first connects completed before /healthz connected, and
        // the server accepts in order: refusals happened already
        assert.ok(refused.get('{reason="per_client"}')! > 0, during);
        assert.equal(refused.get('{reason="global"}'), 0, during);
        const timeouts = metric(during, "mesh_http_timeouts_total").get("")!;
        reconnected = timeouts >= 64 && refused.get('{reason="per_client"}')! > 1500;
      }
      assert.ok(reconnected, "the flood did not come back within 20 rounds");

      await Deno.writeTextFile(stopFile, "");
      const result = JSON.parse(await flood.next("RESULT ", 120_000)) as FloodResult;
      assert.equal(result.connectFailed, 0, JSON.stringify(result));
      assert.ok(result.opened >= 1500, JSON.stringify(result));
      // every flood connection was closed by the server: the refused at once
      // (most with a 503 read in time), the accepted at the header deadline
      assert.equal(result.closedByUs, 0, JSON.stringify(result));
      assert.equal(result.closedByServer, result.opened);
      assert.ok(result.answered503 > 0, JSON.stringify(result));

      const after = await curl(lab, "good", ["-f", `${base}/metrics`]);
      const refused = metric(after, "mesh_http_connections_refused_total");
      const perClient = refused.get('{reason="per_client"}')!;
      const timeouts = metric(after, "mesh_http_timeouts_total").get("")!;
      assert.equal(refused.get('{reason="global"}'), 0);
      // each flood connection was either refused or accepted and timed out
      // (the other address's connections were closed by curl)
      assert.equal(perClient + timeouts, result.opened, after);
      assert.ok(timeouts >= 64, after);

      // logged: at most one line per 10 s (plus the first), naming the flood
      const elapsed = Date.now() - startedAt;
      const lines = logsOf(server).filter((l) => l.msg === "http connections refused");
      assert.ok(lines.length >= 1);
      assert.ok(lines.length <= 1 + Math.ceil(elapsed / 10_000), `${lines.length} lines`);
      for (const l of lines) {
        assert.equal(l.reason, "per_client");
        assert.equal(l.topIp, "10.79.0.2");
        assert.equal(l.limit, 64);
      }
      const logged = lines.reduce((n, l) => n + (l.refused as number), 0);
      assert.ok(logged >= 1 && logged <= perClient, `${logged} of ${perClient}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "conn limits: a slowloris (one header byte per second) is closed at the header deadline, an idle kept-alive connection at the idle timeout",
  ignore: SKIP !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mesh-http-slow-" });
    try {
      await Deno.mkdir(`${dir}/boot`);
      await Deno.mkdir(`${dir}/mirror`);
      await using lab = await createLab("hsl", [
        { name: "srv", address: "10.79.1.1/24" },
        { name: "cli", address: "10.79.1.2/24" },
      ]);
      const headerTimeoutMs = 2000;
      const idleTimeoutMs = 2000;
      const server = startHelper(
        lab,
        "srv",
        "server",
        {
          hostname: "10.79.1.1",
          boot: `${dir}/boot`,
          mirror: `${dir}/mirror`,
          headerTimeoutMs,
          idleTimeoutMs,
        } satisfies ServerArgs,
      );
      const port = Number(await server.next("LISTENING ", 30_000));
      const client = startHelper(
        lab,
        "cli",
        "slow",
        {
          hostname: "10.79.1.1",
          port,
          capMs: 20_000,
        } satisfies SlowArgs,
      );
      const r = JSON.parse(await client.next("RESULT ", 60_000)) as SlowResult;
      // a byte a second never leaves a gap as long as the header timeout:
      // only a deadline for the whole head closes it
      assert.ok(r.slowClosedAfterMs >= 0, `slowloris not closed: ${JSON.stringify(r)}`);
      assert.ok(r.slowClosedAfterMs < 3 * headerTimeoutMs, JSON.stringify(r));
      assert.ok(r.slowBytesSent >= 1);
      assert.equal(r.slowBytesReceived, 0, "an unfinished head gets no answer");
      assert.ok(r.idleAnswer.startsWith("HTTP/1.1 200 "), r.idleAnswer);
      assert.ok(r.idleClosedAfterMs >= 0, `idle connection not closed: ${JSON.stringify(r)}`);
      assert.ok(r.idleClosedAfterMs < 3 * idleTimeoutMs, JSON.stringify(r));
      const m = await curl(lab, "cli", ["-f", `http://10.79.1.1:${port}/metrics`]);
      assert.equal(metric(m, "mesh_http_timeouts_total").get(""), 2, m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
