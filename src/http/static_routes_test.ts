import assert from "node:assert/strict";
import { makeFixture, NODE_ID, NODE_IP, NODE_MAC, NODE_UUID } from "./_app_fixture.ts";

async function bytes(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

function range(h: string): RequestInit {
  return { headers: { range: h } };
}

Deno.test("static: whole file with length, type, validators", async () => {
  await using f = await makeFixture();
  const res = await f.req("/boot/vmlinuz-lts");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), String(f.files.kernel.length));
  assert.equal(res.headers.get("content-type"), "application/octet-stream");
  assert.equal(res.headers.get("accept-ranges"), "bytes");
  assert.match(res.headers.get("etag") ?? "", /^"[0-9a-f]+-[0-9a-f]+"$/);
  assert.ok(res.headers.get("last-modified"));
  assert.deepEqual(await bytes(res), f.files.kernel);
  const apk = await f.req("/alpine/v3.20/main/x86_64/busybox-1.36.1-r0.apk");
  assert.deepEqual(await bytes(apk), f.files.apk);
});

Deno.test("static: content types by suffix", async () => {
  await using f = await makeFixture();
  const cases: [string, string][] = [
    ["/boot/menu.ipxe", "text/plain; charset=utf-8"],
    ["/boot/ipxe.efi", "application/octet-stream"],
    ["/alpine/v3.20/main/x86_64/busybox-1.36.1-r0.apk", "application/octet-stream"],
    ["/alpine/v3.20/main/x86_64/APKINDEX.json", "application/json"],
    ["/isos/alpine.iso", "application/x-iso9660-image"],
  ];
  for (const [p, type] of cases) {
    const res = await f.req(p);
    assert.equal(res.status, 200, p);
    assert.equal(res.headers.get("content-type"), type, p);
    await res.body?.cancel();
  }
});

Deno.test("static: HEAD sends headers and no body", async () => {
  await using f = await makeFixture();
  const res = await f.req("/boot/vmlinuz-lts", { method: "HEAD" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-length"), String(f.files.kernel.length));
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

Deno.test("static: Range edge cases", async () => {
  await using f = await makeFixture();
  const k = f.files.kernel;
  const size = k.length;
  const ok: [string, number, number][] = [
    ["bytes=0-0", 0, 0],
    ["bytes=0-99", 0, 99],
    ["bytes=100-", 100, size - 1],
    ["bytes=-500", size - 500, size - 1],
    [`bytes=-${size + 10}`, 0, size - 1], // suffix longer than the file: whole file as 206
    [`bytes=${size - 1}-`, size - 1, size - 1],
    [`bytes=10-${size + 1000}`, 10, size - 1], // end beyond the file is clamped
  ];
  for (const [h, start, end] of ok) {
    const res = await f.req("/boot/vmlinuz-lts", range(h));
    assert.equal(res.status, 206, h);
    assert.equal(res.headers.get("content-range"), `bytes ${start}-${end}/${size}`, h);
    assert.equal(res.headers.get("content-length"), String(end - start + 1), h);
    assert.deepEqual(await bytes(res), k.subarray(start, end + 1), h);
  }
  for (const h of [`bytes=${size}-`, `bytes=${size + 5}-${size + 9}`, "bytes=-0"]) {
    const res = await f.req("/boot/vmlinuz-lts", range(h));
    assert.equal(res.status, 416, h);
    assert.equal(res.headers.get("content-range"), `bytes */${size}`, h);
    assert.equal((await res.arrayBuffer()).byteLength, 0, h);
  }
  // several ranges, malformed and reversed ranges: the header is ignored, whole file 200
  for (const h of ["bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=9-3", "bytes=-"]) {
    const res = await f.req("/boot/vmlinuz-lts", range(h));
    assert.equal(res.status, 200, h);
    assert.equal((await bytes(res)).length, size, h);
  }
});

Deno.test("static: HEAD with a range has 206 headers and no body", async () => {
  await using f = await makeFixture();
  const res = await f.req("/boot/vmlinuz-lts", { method: "HEAD", headers: { range: "bytes=0-9" } });
  assert.equal(res.status, 206);
  assert.equal(res.headers.get("content-length"), "10");
  assert.equal((await res.arrayBuffer()).byteLength, 0);
});

Deno.test("static: 304 for If-None-Match and If-Modified-Since; If-Range mismatch sends all", async () => {
  await using f = await makeFixture();
  const first = await f.req("/boot/initramfs-lts");
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  const lastModified = first.headers.get("last-modified")!;
  const byTag = await f.req("/boot/initramfs-lts", {
    headers: { "if-none-match": `"x", ${etag}` },
  });
  assert.equal(byTag.status, 304);
  assert.equal(byTag.headers.get("etag"), etag);
  assert.equal((await byTag.arrayBuffer()).byteLength, 0);
  const weak = await f.req("/boot/initramfs-lts", { headers: { "if-none-match": `W/${etag}` } });
  assert.equal(weak.status, 304);
  await weak.body?.cancel();
  const byDate = await f.req("/boot/initramfs-lts", {
    headers: { "if-modified-since": lastModified },
  });
  assert.equal(byDate.status, 304);
  await byDate.body?.cancel();
  const stale = await f.req("/boot/initramfs-lts", { headers: { "if-none-match": '"other"' } });
  assert.equal(stale.status, 200);
  await stale.body?.cancel();
  const old = await f.req("/boot/initramfs-lts", {
    headers: { "if-modified-since": new Date(0).toUTCString() },
  });
  assert.equal(old.status, 200);
  await old.body?.cancel();
  const ifRange = await f.req("/boot/initramfs-lts", {
    headers: { range: "bytes=0-9", "if-range": '"other"' },
  });
  assert.equal(ifRange.status, 200);
  await ifRange.body?.cancel();
  const ifRangeOk = await f.req("/boot/initramfs-lts", {
    headers: { range: "bytes=0-9", "if-range": etag },
  });
  assert.equal(ifRangeOk.status, 206);
  await ifRangeOk.body?.cancel();
});

Deno.test("static: 404 for missing files and directories (no listing)", async () => {
  await using f = await makeFixture();
  for (
    const p of [
      "/boot/nope",
      "/alpine/",
      "/alpine/v3.20",
      "/alpine/v3.20/main/",
      "/isos/",
      "/nothing",
    ]
  ) {
    const res = await f.req(p);
    assert.equal(res.status, 404, p);
    await res.body?.cancel();
  }
});

Deno.test("static: a symlink leaving the root is refused, one inside is followed", async () => {
  await using f = await makeFixture();
  const out = await f.req("/boot/escape.txt");
  assert.equal(out.status, 403);
  assert.ok(!(await out.text()).includes("secret"));
  const inside = await f.req("/boot/vmlinuz");
  assert.deepEqual(await bytes(inside), f.files.kernel);
});

Deno.test("static: kernel and initrd fetches move the node on", async () => {
  await using f = await makeFixture();
  await (await f.req(`/boot.ipxe?mac=${NODE_MAC}&uuid=${NODE_UUID}`)).text();
  await (await f.req("/boot/vmlinuz-lts", { method: "HEAD" })).arrayBuffer();
  await (await f.req("/boot/vmlinuz-lts")).arrayBuffer();
  await (await f.req("/boot/initramfs-lts")).arrayBuffer();
  assert.deepEqual(f.registry.stagesSeen(NODE_ID), ["script", "kernel", "initrd"]);
  assert.equal(f.registry.get(NODE_ID)?.stage, "initrd");
  assert.equal(f.registry.get(NODE_ID)?.ip, NODE_IP);
});

Deno.test("static: a 64 MiB file streams without being read whole", async () => {
  const size = 64 * 1024 * 1024;
  await using f = await makeFixture({ bigFile: size });
  const res = await f.req("/boot/big.bin");
  assert.equal(res.headers.get("content-length"), String(size));
  const reader = res.body!.getReader();
  let total = 0;
  let largest = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    largest = Math.max(largest, value.length);
  }
  assert.equal(total, size);
  assert.ok(largest <= 16 * 1024 * 1024, `chunk of ${largest} bytes`);
});

Deno.test("static: small files come from memory, ranged alike, and a changed file is re-read", async () => {
  await using f = await makeFixture();
  const apk = "/alpine/v3.20/main/x86_64/busybox-1.36.1-r0.apk";
  assert.deepEqual(await bytes(await f.req(apk)), f.files.apk);
  const part = await f.req(apk, range("bytes=10-19"));
  assert.equal(part.status, 206);
  assert.deepEqual(await bytes(part), f.files.apk.subarray(10, 20));
  const tail = await f.req(apk, range("bytes=4000-"));
  assert.deepEqual(await bytes(tail), f.files.apk.subarray(4000));
  const path = `${f.dir}/boot/menu.ipxe`;
  assert.equal(await (await f.req("/boot/menu.ipxe")).text(), "#!ipxe\n");
  await Deno.writeTextFile(path, "#!ipxe\necho changed\n");
  await Deno.utime(path, new Date(), new Date(Date.now() + 5000));
  assert.equal(await (await f.req("/boot/menu.ipxe")).text(), "#!ipxe\necho changed\n");
});

Deno.test("static: mirror packages are cached, indexes revalidate, dot names are never served", async () => {
  await using f = await makeFixture();
  const apk = await f.req("/alpine/v3.20/main/x86_64/busybox-1.36.1-r0.apk");
  assert.equal(apk.headers.get("cache-control"), "public, max-age=86400, immutable");
  await apk.body?.cancel();
  const index = await f.req("/alpine/v3.20/main/x86_64/APKINDEX.json");
  assert.equal(index.headers.get("cache-control"), "no-cache");
  await index.body?.cancel();
  for (const p of ["/alpine/.mesh/v3.20.json", "/alpine/v3.20/.hidden", "/boot/.state"]) {
    const res = await f.req(p);
    assert.equal(res.status, 404, p);
    await res.body?.cancel();
  }
});
