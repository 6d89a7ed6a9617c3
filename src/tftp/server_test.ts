import assert from "node:assert/strict";
import { realRoot } from "../files/mod.ts";
import { createCorpusFixture, loadTraversalCorpus } from "../files/testdata/traversal_corpus.ts";
import { exchange, tftpGet } from "./_test_client.ts";
import { encodeAck, encodeRequest, ErrorCode, Opcode } from "./packet.ts";
import { startTftpServer, type TftpServerOptions, type TransferStats } from "./server.ts";

async function withServer(
  files: Record<string, Uint8Array>,
  opts: Partial<TftpServerOptions>,
  fn: (port: number, seen: TransferStats[], dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-" });
  for (const [name, data] of Object.entries(files)) await Deno.writeFile(`${dir}/${name}`, data);
  const seen: TransferStats[] = [];
  const server = await startTftpServer({
    hostname: "127.0.0.1",
    port: 0,
    root: dir,
    onTransfer: (s) => seen.push(s),
    ...opts,
  });
  try {
    await fn(server.addr.port, seen, dir);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

Deno.test("refusals: WRQ gets error 2, a missing file error 1, mode mail error 4", async () => {
  await withServer({ f: random(10) }, {}, async (port, seen) => {
    const w = await exchange(port, encodeRequest(Opcode.WRQ, "f", "octet"));
    assert.equal(w?.op, Opcode.ERROR);
    if (w?.op === Opcode.ERROR) assert.equal(w.code, ErrorCode.ACCESS_VIOLATION);
    const m = await tftpGet(port, "nope.bin");
    assert.equal(m.ok, false);
    assert.equal(m.error?.code, ErrorCode.FILE_NOT_FOUND);
    const mail = await exchange(port, encodeRequest(Opcode.RRQ, "f", "mail"));
    if (mail?.op === Opcode.ERROR) assert.equal(mail.code, ErrorCode.ILLEGAL_OPERATION);
    else assert.fail("expected an ERROR");
    assert.ok(seen.some((s) => s.file === "nope.bin" && !s.ok));
  });
});

Deno.test("files of 0, 511, 512, 513 bytes and 1 MiB arrive intact with and without options", async () => {
  const files = {
    zero: new Uint8Array(0),
    a511: random(511),
    a512: random(512),
    a513: random(513),
    mib: random(1024 * 1024),
  };
  await withServer(files, {}, async (port, seen) => {
    for (const [name, data] of Object.entries(files)) {
      const variants: Record<string, string>[] = [
        {},
        { blksize: "1468", tsize: "0" },
        { blksize: "1024", windowsize: "8" },
      ];
      for (const options of variants) {
        const r = await tftpGet(port, name, { options });
        assert.equal(r.ok, true, `${name} ${JSON.stringify(options)} ${r.error?.message}`);
        assert.deepEqual(r.data, data);
        if ("tsize" in options) assert.equal(r.oack?.get("tsize"), String(data.length));
      }
    }
    // The hook runs once the server has the final ACK, just after the client returns.
    for (let i = 0; i < 100 && seen.length < 15; i++) await new Promise((r) => setTimeout(r, 20));
    const last = seen.find((s) => s.file === "mib" && s.windowsize > 1)!;
    assert.equal(last.ok, true);
    assert.equal(last.bytes, 1024 * 1024);
    assert.equal(last.windowsize, 8);
  });
});

Deno.test("netascii mode converts line ends", async () => {
  await withServer({ t: new TextEncoder().encode("a\nb\r") }, {}, async (port) => {
    const r = await tftpGet(port, "t", { mode: "netascii" });
    assert.deepEqual([...r.data], [0x61, 0x0d, 0x0a, 0x62, 0x0d, 0x00]);
  });
});

Deno.test("a second concurrent request beyond the per-client limit is refused", async () => {
  await withServer({ f: random(5000) }, { perClient: 1, timeoutMs: 5000 }, async (port) => {
    // A client that never ACKs keeps its transfer open.
    const idle = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      await idle.send(encodeRequest(Opcode.RRQ, "f", "octet"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      const [first, tid] = await idle.receive();
      assert.equal(first[1], Opcode.DATA);
      // Another TID on the transfer socket gets error 5; the transfer goes on.
      const stranger = await exchange((tid as Deno.NetAddr).port, encodeAck(1));
      if (stranger?.op === Opcode.ERROR) assert.equal(stranger.code, ErrorCode.UNKNOWN_TID);
      else assert.fail("expected error 5");
      const second = await tftpGet(port, "f");
      assert.equal(second.ok, false);
      assert.match(second.error?.message ?? "", /too many/);
    } finally {
      idle.close();
    }
  });
});

Deno.test("every corpus path over the wire gets an error or silence, never data", async () => {
  await using fx = await createCorpusFixture();
  const server = await startTftpServer({ hostname: "127.0.0.1", port: 0, root: fx.root });
  try {
    const mode = new TextEncoder().encode("octet");
    for (const raw of await loadTraversalCorpus()) {
      const pkt = new Uint8Array([0, 1, ...raw, 0, ...mode, 0]);
      const reply = await exchange(server.addr.port, pkt, 300);
      if (reply === null) continue; // undecodable name: counted as malformed, no reply
      assert.equal(reply.op, Opcode.ERROR, `path ${JSON.stringify(new TextDecoder().decode(raw))}`);
    }
    assert.equal(server.stats().completed, 0);
    const ok = await tftpGet(server.addr.port, "inside.bin");
    assert.deepEqual(ok.data, fx.inside);
    assert.ok((await realRoot(fx.root)).length > 0);
  } finally {
    await server.close();
  }
});

Deno.test("40 concurrent transfers of a streamed file (lock-step and windowed) all arrive intact", async () => {
  const big = random(700_000);
  // memoryCacheMaxBytes 0: every transfer streams through its own read-ahead.
  await withServer({ big }, { memoryCacheMaxBytes: 0, perClient: 100 }, async (port, seen) => {
    const variants: Record<string, string>[] = [
      {},
      { blksize: "1468" },
      { blksize: "1468", windowsize: "16" },
      { blksize: "600", windowsize: "3" },
    ];
    const runs = Array.from(
      { length: 40 },
      (_, i) => tftpGet(port, "big", { options: variants[i % 4] }),
    );
    const results = await Promise.all(runs);
    for (const r of results) {
      assert.equal(r.ok, true, r.error?.message);
      assert.deepEqual(r.data, big);
    }
    for (let i = 0; i < 100 && seen.length < 40; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.filter((s) => s.ok && s.bytes === big.length).length, 40);
  });
});

Deno.test("close() ends running transfers, reported as 'server closed'", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-" });
  await Deno.writeFile(`${dir}/f`, random(100_000));
  const seen: TransferStats[] = [];
  const server = await startTftpServer({
    hostname: "127.0.0.1",
    port: 0,
    root: dir,
    onTransfer: (s) => seen.push(s),
  });
  // A client that takes DATA 1 and never ACKs keeps its transfer open.
  const idle = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await idle.send(encodeRequest(Opcode.RRQ, "f", "octet"), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    const [first] = await idle.receive();
    assert.equal(first[1], Opcode.DATA);
    assert.equal(server.stats().active, 1);
    await server.close();
    assert.equal(server.stats().active, 0);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.ok, false);
    assert.equal(seen[0]!.error, "server closed");
  } finally {
    idle.close();
    await Deno.remove(dir, { recursive: true });
  }
});
