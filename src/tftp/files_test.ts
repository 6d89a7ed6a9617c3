import assert from "node:assert/strict";
import { checkRequestPath, realRoot } from "../files/mod.ts";
import { createCorpusFixture, loadTraversalCorpus } from "../testing/traversal_corpus.ts";
import { dirSource } from "./files.ts";

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder();

Deno.test("the corpus has at least 200 hostile paths", async () => {
  assert.ok((await loadTraversalCorpus()).length >= 200);
});

Deno.test("checkRequestPath never yields a path that climbs or is absolute", async () => {
  for (const raw of await loadTraversalCorpus()) {
    for (const text of [utf8.decode(raw), latin1.decode(raw)]) {
      const r = checkRequestPath(text);
      if (!r.ok) continue;
      const parts = r.rel.split("/");
      assert.ok(!r.rel.startsWith("/"), JSON.stringify(text));
      assert.ok(!parts.includes("..") && !parts.includes("") && !parts.includes("."), text);
    }
  }
});

Deno.test("dirSource refuses every corpus path and never returns outside bytes", async () => {
  await using fx = await createCorpusFixture();
  const source = dirSource(await realRoot(fx.root), { memoryCacheMaxBytes: 0 });
  const cached = dirSource(await realRoot(fx.root));
  for (const raw of await loadTraversalCorpus()) {
    const text = utf8.decode(raw);
    for (const src of [source, cached]) {
      const r = await src.open(text, "octet");
      assert.ok(!("size" in r), `served ${JSON.stringify(text)}`);
    }
  }
  // The fixture itself is sound: the inside file is served.
  const ok = await source.open("inside.bin", "octet");
  assert.ok("size" in ok);
  assert.deepEqual(await ok.read(0, 100), fx.inside);
  ok.close();
});

Deno.test("small files come from memory, big ones are streamed; a changed file is reloaded", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const small = crypto.getRandomValues(new Uint8Array(1000));
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 65536) crypto.getRandomValues(big.subarray(i, i + 65536));
    await Deno.writeFile(`${dir}/small`, small);
    await Deno.writeFile(`${dir}/big`, big);
    const src = dirSource(await realRoot(dir), { memoryCacheMaxBytes: 2 * 1024 * 1024 });
    const s = await src.open("small", "octet");
    assert.ok("size" in s && s.cached);
    assert.deepEqual(await s.read(0, 5000), small);
    const b = await src.open("big", "octet");
    assert.ok("size" in b && !b.cached);
    assert.equal(b.size, big.length);
    assert.deepEqual(await b.read(1_000_000, 1468), big.subarray(1_000_000, 1_001_468));
    assert.deepEqual(await b.read(5, 10), big.subarray(5, 15));
    b.close();
    const changed = crypto.getRandomValues(new Uint8Array(1001));
    await Deno.writeFile(`${dir}/small`, changed);
    const s2 = await src.open("small", "octet");
    assert.ok("size" in s2);
    assert.deepEqual(await s2.read(0, 5000), changed);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("netascii from disk converts and reports the converted size", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/t.txt`, "one\ntwo\r\n".repeat(50_000));
    const src = dirSource(await realRoot(dir), { memoryCacheMaxBytes: 0 });
    const f = await src.open("t.txt", "netascii");
    assert.ok("size" in f);
    assert.equal(f.size, "one\r\ntwo\r\0\r\n".length * 50_000);
    const head = await f.read(0, 13);
    assert.equal(utf8.decode(head), "one\r\ntwo\r\0\r\no");
    f.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
