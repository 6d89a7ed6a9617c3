import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { loadOverlayIndex } from "./overlay_index.ts";
import { parseOverlayName } from "./overlay_name.ts";

const SHA = "ab".repeat(32);

Deno.test("loadOverlayIndex: reads entries, paths beside the index", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/index.json`,
      JSON.stringify({
        default: { folder: "default", sha256: SHA, size: 10 },
        "1a2b3c4d": { folder: "web", sha256: SHA, size: 20 },
      }),
    );
    const idx = await loadOverlayIndex(dir);
    assert.equal(idx.size, 2);
    assert.deepEqual(idx.get("1a2b3c4d"), {
      folder: "web",
      sha256: SHA,
      size: 20,
      path: `${dir}/1a2b3c4d.tar.gz`,
      etag: `"${SHA.slice(0, 32)}"`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadOverlayIndex: missing index means no overlays; bad ones name the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal((await loadOverlayIndex(dir)).size, 0);
    await Deno.writeTextFile(`${dir}/index.json`, "{not json");
    await assert.rejects(
      () => loadOverlayIndex(dir),
      (e: unknown) => e instanceof ConfigError && e.file === `${dir}/index.json`,
    );
    await Deno.writeTextFile(
      `${dir}/index.json`,
      JSON.stringify({ "../x": { folder: "a", sha256: SHA, size: 1 }, abcdef01: { size: -1 } }),
    );
    await assert.rejects(
      () => loadOverlayIndex(dir),
      (e: unknown) => e instanceof ConfigError && e.issues.length === 2,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseOverlayName: ids, MACs, UUIDs, default, garbage", () => {
  assert.deepEqual(parseOverlayName("1a2b3c4d.tar.gz"), { kind: "id", id: "1a2b3c4d" });
  assert.deepEqual(parseOverlayName("default.tar.gz"), { kind: "default" });
  assert.deepEqual(parseOverlayName("52:54:00:AB:cd:01.tar.gz"), {
    kind: "mac",
    mac: "52:54:00:ab:cd:01",
  });
  assert.deepEqual(parseOverlayName("52-54-00-ab-cd-01.tar.gz"), {
    kind: "mac",
    mac: "52:54:00:ab:cd:01",
  });
  assert.deepEqual(parseOverlayName("7E570000-0000-4000-8000-525400110101.tar.gz"), {
    kind: "uuid",
    uuid: "7e570000-0000-4000-8000-525400110101",
  });
  assert.deepEqual(parseOverlayName("00000000-0000-0000-0000-000000000000.tar.gz"), {
    kind: "anonymous",
  });
  for (
    const bad of [
      "1A2B3C4D.tar.gz",
      "x.tar.gz",
      "52:54-00:ab:cd:01.tar.gz",
      "1a2b3c4d.tgz",
      ".tar.gz",
      "{MAC}.tar.gz",
    ]
  ) {
    assert.equal(parseOverlayName(bad), null, bad);
  }
});
