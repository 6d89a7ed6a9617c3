import assert from "node:assert/strict";
import {
  openConfined,
  openConfinedSync,
  openVerifiedSync,
  openWithin,
  readOpened,
  realRoot,
  under,
  verifyOpenedSync,
} from "./mod.ts";
import { createCorpusFixture, loadTraversalCorpus } from "../testing/traversal_corpus.ts";

const enc = new TextEncoder();

async function tree() {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "mesh-open-" }));
  const root = `${base}/root`;
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.writeTextFile(`${root}/a`, "inside a\n");
  await Deno.writeTextFile(`${root}/sub/b`, "inside b\n");
  await Deno.writeTextFile(`${base}/secret`, "SECRET\n");
  await Deno.symlink("sub/b", `${root}/to-b`);
  await Deno.symlink(`${base}/secret`, `${root}/to-secret`);
  return {
    base,
    root,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

async function text(file: Deno.FsFile, size: number): Promise<string> {
  try {
    return new TextDecoder().decode(await readOpened(file, size));
  } finally {
    file.close();
  }
}

Deno.test("openConfined: opens files and symlinks inside the root, refuses the rest", async () => {
  await using t = await tree();
  for (const open of [openConfinedSync, openConfined]) {
    const a = await open(t.root, "a");
    assert.ok(a.ok);
    assert.equal(a.path, `${t.root}/a`);
    assert.equal(a.rel, "a");
    assert.equal(a.info.size, 9);
    assert.equal(await text(a.file, a.info.size), "inside a\n");
    const b = await open(t.root, "to-b");
    assert.ok(b.ok);
    assert.equal(b.path, `${t.root}/sub/b`);
    assert.equal(await text(b.file, b.info.size), "inside b\n");
    const cases: [string, string][] = [
      ["to-secret", "outside"],
      ["sub", "not-file"],
      ["nope", "not-found"],
      ["../secret", "invalid"],
    ];
    for (const [req, reason] of cases) {
      const r = await open(t.root, req);
      assert.ok(!r.ok, req);
      assert.equal(r.reason, reason, req);
    }
  }
});

Deno.test("openConfined refuses every corpus path", async () => {
  await using fx = await createCorpusFixture();
  const root = await realRoot(fx.root);
  const utf8 = new TextDecoder();
  for (const raw of await loadTraversalCorpus()) {
    const r = openConfinedSync(root, utf8.decode(raw));
    if (r.ok) r.file.close();
    assert.ok(!r.ok, `opened ${JSON.stringify(utf8.decode(raw))}`);
  }
  const ok = openConfinedSync(root, "inside.bin");
  assert.ok(ok.ok);
  assert.deepEqual(await readOpened(ok.file, ok.info.size), fx.inside);
  ok.file.close();
});

Deno.test("verifyOpenedSync: a descriptor no longer found at its checked path is refused", async () => {
  await using t = await tree();
  const inside = under(t.root);
  const path = `${t.root}/a`;
  // the path was swapped for a symlink to outside after the open
  let file = Deno.openSync(path);
  await Deno.rename(`${t.root}/to-secret`, path);
  let r = verifyOpenedSync(file, path, inside);
  assert.ok(!r.ok);
  assert.equal(r.reason, "outside");
  // the open followed a symlink to outside, and the path is a regular file again
  await Deno.remove(path);
  await Deno.writeTextFile(path, "inside a\n");
  file = Deno.openSync(`${t.base}/secret`);
  r = verifyOpenedSync(file, path, inside);
  assert.ok(!r.ok);
  assert.equal(r.reason, "not-found");
  assert.match(r.detail, /changed/);
  // the path now names another file inside the root (an in-root symlink)
  file = Deno.openSync(path);
  await Deno.remove(path);
  await Deno.symlink("sub/b", path);
  r = verifyOpenedSync(file, path, inside);
  assert.ok(!r.ok);
  // refused descriptors are closed
  assert.throws(() => file.statSync());
  // a file republished by rename: the re-open gets the new one
  await Deno.remove(path);
  await Deno.writeTextFile(`${t.root}/a.new`, "new a\n");
  await Deno.rename(`${t.root}/a.new`, path);
  const again = openConfinedSync(t.root, "a");
  assert.ok(again.ok);
  assert.equal(await text(again.file, again.info.size), "new a\n");
});

Deno.test("openVerifiedSync with an exact path refuses a path that became a symlink", async () => {
  await using t = await tree();
  const path = `${t.root}/a`;
  const exact = (real: string) => real === path;
  const ok = openVerifiedSync(path, exact);
  assert.ok(ok.ok);
  ok.file.close();
  await Deno.remove(path);
  await Deno.symlink("sub/b", path);
  const r = openVerifiedSync(path, exact);
  assert.ok(!r.ok);
  assert.equal(r.reason, "outside");
});

Deno.test("openWithin: follows symlinks inside the root, refuses those leaving it", async () => {
  await using t = await tree();
  const ok = await openWithin(t.root, `${t.root}/to-b`);
  assert.ok(ok.ok);
  assert.equal(ok.path, `${t.root}/sub/b`);
  assert.equal(await text(ok.file, ok.info.size), "inside b\n");
  const out = await openWithin(t.root, `${t.root}/to-secret`);
  assert.ok(!out.ok);
  assert.equal(out.reason, "outside");
  assert.match(out.detail, /secret/);
  const missing = await openWithin(t.root, `${t.root}/nope`);
  assert.ok(!missing.ok);
  assert.equal(missing.reason, "not-found");
  const dir = await openWithin(t.root, `${t.root}/sub`);
  assert.ok(!dir.ok);
  assert.equal(dir.reason, "not-file");
});

Deno.test("readOpened reads what is there, up to the size asked", async () => {
  await using t = await tree();
  await Deno.writeFile(`${t.root}/big`, enc.encode("x".repeat(300_000)));
  const f = Deno.openSync(`${t.root}/big`);
  try {
    assert.equal((await readOpened(f, 200_000)).length, 200_000);
    assert.equal((await readOpened(f, 200_000)).length, 100_000);
  } finally {
    f.close();
  }
});
