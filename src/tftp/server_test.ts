import assert from "node:assert/strict";
import { realRoot } from "../files/mod.ts";
import { createCorpusFixture, loadTraversalCorpus } from "../testing/traversal_corpus.ts";
import type { Refusal } from "../files/mod.ts";
import { exchange, hasTftpHpa, tftpGet, tftpHpaGet } from "./_test_client.ts";
import type { FileSource, TftpFile } from "./files.ts";
import {
  decodePacket,
  encodeAck,
  encodeError,
  encodeRequest,
  ErrorCode,
  Opcode,
  type Packet,
} from "./packet.ts";
import {
  SHUTDOWN_MESSAGE,
  startTftpServer,
  type TftpServerOptions,
  type TransferStats,
} from "./server.ts";

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

/** Waits for a packet on `conn` for at most `ms`; null on timeout. */
async function receiveWithin(
  conn: Deno.DatagramConn,
  ms: number,
): Promise<[Packet, Deno.NetAddr] | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const recv = conn.receive().then(([b, a]) => [decodePacket(b), a as Deno.NetAddr] as const);
  recv.catch(() => {});
  try {
    const got = await Promise.race([
      recv,
      new Promise<null>((r) => timer = setTimeout(() => r(null), ms)),
    ]);
    return got === null ? null : [got[0], got[1]];
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until an ERROR arrives (DATA retransmits are skipped), bounded by `tries` packets. */
async function nextError(
  conn: Deno.DatagramConn,
  tries = 20,
): Promise<[Packet & { op: 5 }, Deno.NetAddr] | null> {
  for (let i = 0; i < tries; i++) {
    const got = await receiveWithin(conn, 5000);
    if (got === null) return null;
    if (got[0].op === Opcode.ERROR) return got as [Packet & { op: 5 }, Deno.NetAddr];
  }
  return null;
}

Deno.test("close() sends every running transfer an ERROR 0 from its own port", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-" });
  await Deno.writeFile(`${dir}/big`, random(2_000_000));
  const server = await startTftpServer({ hostname: "127.0.0.1", port: 0, root: dir });
  // Two clients take DATA 1 and never ACK: their transfers stay open.
  const idle = [0, 1].map(() =>
    Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 })
  );
  try {
    const tids: number[] = [];
    for (const c of idle) {
      await c.send(encodeRequest(Opcode.RRQ, "big", "octet"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      const first = await receiveWithin(c, 5000);
      assert.equal(first?.[0].op, Opcode.DATA);
      tids.push(first![1].port);
    }
    assert.equal(server.stats().active, 2);
    await server.close();
    for (const [i, c] of idle.entries()) {
      const got = await nextError(c);
      assert.ok(got, "an ERROR arrives after close()");
      const [err, from] = got;
      assert.equal(from.port, tids[i], "sent from the transfer's port (its TID)");
      assert.notEqual(from.port, server.addr.port);
      assert.equal(err.code, ErrorCode.NOT_DEFINED);
      assert.equal(err.message, SHUTDOWN_MESSAGE);
    }
    const stats = server.stats();
    assert.equal(stats.shutdownErrors, 2);
    assert.equal(stats.active, 0);
    assert.equal(stats.failed, 2);
  } finally {
    for (const c of idle) c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A source whose `open` waits until released (signals when it was called). */
function blockedSource(): { source: FileSource; opened: Promise<void>; release(): void } {
  let opened!: () => void;
  let release!: () => void;
  const openedP = new Promise<void>((r) => opened = r);
  const gate = new Promise<void>((r) => release = r);
  const file: TftpFile = {
    rel: "f",
    size: 10,
    cached: true,
    read: () => Promise.resolve(new Uint8Array(10)),
    close() {},
  };
  return {
    source: {
      async open(): Promise<TftpFile | Refusal> {
        opened();
        await gate;
        return file;
      },
    },
    opened: openedP,
    release,
  };
}

Deno.test("close() tells a request still opening its file from the listener's port", async () => {
  const blocked = blockedSource();
  const server = await startTftpServer({ hostname: "127.0.0.1", port: 0, source: blocked.source });
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await client.send(encodeRequest(Opcode.RRQ, "f", "octet"), {
      transport: "udp",
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await blocked.opened;
    await server.close();
    const got = await nextError(client);
    assert.ok(got, "an ERROR arrives after close()");
    assert.equal(got[1].port, server.addr.port);
    assert.equal(got[0].message, SHUTDOWN_MESSAGE);
    assert.equal(server.stats().shutdownErrors, 1);
  } finally {
    blocked.release();
    client.close();
  }
  // The request ends once its file is open: it starts no transfer.
  for (let i = 0; i < 100 && server.stats().active > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(server.stats().active, 0);
});

/**
 * A 10 MB file whose first 64 KiB are at hand and whose later bytes never
 * arrive: a transfer of it stalls after about 128 blocks (`stalled` settles).
 */
function stallingSource(): { source: FileSource; stalled: Promise<void> } {
  let stalled!: () => void;
  const stalledP = new Promise<void>((r) => stalled = r);
  const AT_HAND = 64 * 1024;
  const file: TftpFile = {
    rel: "big",
    size: 10_000_000,
    cached: false,
    readInto(offset, dest) {
      if (offset + dest.length > AT_HAND) return null;
      dest.fill(0x5a);
      return dest.length;
    },
    read() {
      stalled();
      return new Promise<Uint8Array>(() => {});
    },
    close() {},
  };
  return { source: { open: () => Promise.resolve(file) }, stalled: stalledP };
}

function within<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms)),
  ])
    .finally(() => clearTimeout(timer));
}

Deno.test({
  name: "tftp-hpa stops with the server's shutdown error instead of retransmitting",
  ignore: !hasTftpHpa(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-" });
    const { source, stalled } = stallingSource();
    const server = await startTftpServer({ hostname: "127.0.0.1", port: 0, source });
    const child = new Deno.Command("tftp", {
      args: tftpHpaGet(server.addr.port, "big", `${dir}/out`),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    try {
      assert.notEqual(await within(stalled, 10_000), "timeout", "the transfer started");
      assert.equal(server.stats().active, 1);
      await server.close();
      // Without the ERROR, tftp-hpa retransmits its ACK for 25 s before giving up.
      const out = await within(output, 10_000);
      assert.notEqual(out, "timeout", "tftp exited after the server closed");
      if (out === "timeout") return;
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.match(text, /server shutting down/);
      assert.equal(server.stats().shutdownErrors, 1);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await output.catch(() => {});
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a client that stops after the OACK (OVMF's size probe) is counted as a probe, not a failure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-" });
  await Deno.writeFile(`${dir}/ipxe.efi`, new Uint8Array(5000).fill(7));
  const seen: TransferStats[] = [];
  const server = await startTftpServer({
    hostname: "127.0.0.1",
    port: 0,
    root: dir,
    onTransfer: (t) => seen.push(t),
  });
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await conn.send(
      encodeRequest(Opcode.RRQ, "ipxe.efi", "octet", new Map([["tsize", "0"]])),
      { transport: "udp", hostname: "127.0.0.1", port: server.addr.port },
    );
    const [bytes, from] = await conn.receive();
    const oack = decodePacket(bytes);
    assert.equal(oack.op, Opcode.OACK);
    await conn.send(encodeError(8, "size only"), from);
    for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.sizeProbe, true);
    const stats = server.stats();
    assert.equal(stats.sizeProbes, 1);
    assert.equal(stats.failed, 0);
    // a real download afterwards is a completed transfer as usual
    const got = await tftpGet(server.addr.port, "ipxe.efi");
    assert.equal(got.ok, true);
    // the server counts it once it has read the last ACK (bounded wait)
    for (let i = 0; i < 200 && server.stats().completed === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(server.stats().completed, 1);
    assert.equal(server.stats().failed, 0);
  } finally {
    conn.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
