/**
 * A bad upstream or a bad /host0 list: each run fails with one clear line,
 * in bounded time, and the mirror that was served stays served, unchanged.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../src/errors.ts";
import { ApkVerifyError, VerifyFailure } from "../../src/mirror/mod.ts";
import { concatBytes as concat } from "../../src/wire/mod.ts";
import { abuildSign, makeKey, unsignedIndex } from "./_repo_fixture.ts";
import { FAST, snapshot, WANTED, world } from "./_mirror_fixture.ts";

const MAIN_INDEX = "v3.22/main/x86_64/APKINDEX.tar.gz";

/** Runs `fn` against a world that already serves a good mirror, then checks it still does. */
async function keepsServed(
  name: string,
  fn: (w: Awaited<ReturnType<typeof world>>) => Promise<unknown>,
): Promise<void> {
  const w = await world();
  try {
    await w.run();
    const before = await snapshot(w.served);
    await fn(w);
    assert.deepEqual(await snapshot(w.served), before, `${name}: served mirror changed`);
  } finally {
    await w.close();
  }
}

function oneLine(re: RegExp, kind?: VerifyFailure) {
  return (e: unknown) => {
    assert.ok(e instanceof Error);
    assert.match(e.message, re);
    assert.ok(!e.message.includes("\n"), `one line: ${e.message}`);
    if (kind) {
      assert.ok(e instanceof ApkVerifyError);
      assert.equal(e.kind, kind);
    }
    console.log(`  refused: ${e.message.replace(/http:\/\/127\.0\.0\.1:\d+/g, "<url>")}`);
    return true;
  };
}

Deno.test("bad index: tampered, unsigned, unknown key, truncated, malformed", async () => {
  await keepsServed("index", async (w) => {
    const path = `${w.repo.root}/${MAIN_INDEX}`;
    const good = await Deno.readFile(path);
    const text = "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:evil\nV:1-r0\nA:x86_64\nS:1\nI:1\n\n";
    const unsigned = unsignedIndex(text);
    const signedOther = await abuildSign(unsigned, w.repo.key, w.dir);
    const sigLen = signedOther.length - unsigned.length;
    const cases: [string, Uint8Array, RegExp, VerifyFailure][] = [
      [
        "tampered",
        // Alpine's signature stream in front of another index stream.
        concat([signedOther.subarray(0, sigLen), unsignedIndex(text.replace("evil", "evil2"))]),
        /APKINDEX\.tar\.gz: the RSA signature by .* does not match/,
        VerifyFailure.BadSignature,
      ],
      ["unsigned", unsigned, /APKINDEX\.tar\.gz is not signed/, VerifyFailure.NoSignature],
      ["truncated", good.subarray(0, good.length - 100), /truncated/, VerifyFailure.Truncated],
    ];
    for (const [name, bytes, re, kind] of cases) {
      await Deno.writeFile(path, bytes);
      await assert.rejects(w.run(), oneLine(re, kind), name);
    }
    // Signed, but the APKINDEX text is garbage.
    await Deno.writeFile(
      path,
      await abuildSign(unsignedIndex("<html>oops</html>\n"), w.repo.key, w.dir),
    );
    await assert.rejects(w.run(), oneLine(/malformed APKINDEX: no package record could be read/));
    // Signed by a key that is not in /host0/keys/apk.
    await Deno.writeFile(path, good);
    const stranger = await makeKey(w.dir, "stranger-0badc0de.rsa.pub");
    await assert.rejects(
      w.run({ keysDir: stranger.keysDir }),
      oneLine(
        new RegExp(
          `is signed with ${w.repo.key.name.replaceAll(".", "\\.")}, which is not in .*keys: copy`,
        ),
        VerifyFailure.UnknownKey,
      ),
    );
  });
});

Deno.test("bad list: a package nothing provides is a ConfigError naming the file", async () => {
  await keepsServed("list", async (w) => {
    const wanted = [...WANTED, { name: "no-such-package", from: "/h/machines/web/packages" }];
    await assert.rejects(w.run({ wanted }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.issues.length, 1);
      assert.deepEqual(e.issues[0], {
        file: "/h/machines/web/packages",
        message: "no-such-package: nothing provides it",
      });
      return true;
    });
    assert.equal(w.server.count(/no-such/), 0);
  });
});

Deno.test("bad upstream: 404 and 500 are retried, then one clear error", async () => {
  await keepsServed("status", async (w) => {
    w.server.faults.set(MAIN_INDEX, { kind: "status", status: 404, times: Infinity });
    await assert.rejects(
      w.run(),
      oneLine(
        /GET http:.*\/v3\.22\/main\/x86_64\/APKINDEX\.tar\.gz: HTTP 404 Not Found \(3 attempts\)/,
      ),
    );
    assert.equal(w.server.log.filter((l) => l.path === MAIN_INDEX && l.status === 404).length, 3);
    w.server.faults.clear();
    await w.repo.add({ name: "busybox", version: "1.37.0-r13" });
    const pkg = "v3.22/main/x86_64/busybox-1.37.0-r13.apk";
    w.server.faults.set(pkg, { kind: "status", status: 500, times: Infinity });
    await assert.rejects(
      w.run(),
      oneLine(/busybox-1\.37\.0-r13\.apk: HTTP 500 Internal Server Error/),
    );
  });
});

Deno.test("bad upstream: a transient 500 is ridden out", async () => {
  const w = await world();
  try {
    const pkg = "v3.22/main/x86_64/busybox-1.37.0-r12.apk";
    w.server.faults.set(pkg, { kind: "status", status: 500, times: 2 });
    const r = await w.run();
    assert.ok(r.published);
    assert.deepEqual(w.server.log.filter((l) => l.path === pkg).map((l) => l.status), [
      500,
      500,
      200,
    ]);
  } finally {
    await w.close();
  }
});

Deno.test("bad upstream: a stalled body or a silent server ends in bounded time", async () => {
  await keepsServed("stall", async (w) => {
    await w.repo.add({ name: "openrc", version: "0.55.1-r3" });
    const pkg = "v3.22/main/x86_64/openrc-0.55.1-r3.apk";
    w.server.faults.set(pkg, { kind: "stall", times: Infinity });
    let t0 = performance.now();
    await assert.rejects(
      w.run(),
      oneLine(/openrc-0\.55\.1-r3\.apk: stalled: no data for 0\.3 s \(3 attempts\)/),
    );
    const stallMs = performance.now() - t0;
    assert.ok(stallMs < 5_000, `bounded: ${stallMs} ms`);
    w.server.faults.set(pkg, { kind: "hang", times: Infinity });
    t0 = performance.now();
    await assert.rejects(
      w.run({ policy: { ...FAST, headersTimeoutMs: 300 } }),
      oneLine(/openrc-0\.55\.1-r3\.apk: no response within 0\.3 s \(3 attempts\)/),
    );
    assert.ok(performance.now() - t0 < 5_000);
    console.log(`  stalled body gave up after ${stallMs.toFixed(0)} ms (3 × 0.3 s + backoff)`);
    w.server.faults.clear();
  });
});

Deno.test("bad upstream: a connection cut mid-body is resumed with Range in the same run", async () => {
  const w = await world();
  try {
    const pkg = "v3.22/community/x86_64/qemu-img-10.0.2-r0.apk";
    w.server.faults.set(pkg, { kind: "cut", after: 5000, times: 1 });
    const r = await w.run();
    assert.equal(r.refused.length, 0);
    const tries = w.server.log.filter((l) => l.path === pkg);
    assert.deepEqual(tries.map((l) => [l.status, l.range]), [[200, undefined], [
      206,
      "bytes=5000-",
    ]]);
  } finally {
    await w.close();
  }
});
