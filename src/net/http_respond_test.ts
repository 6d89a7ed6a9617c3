/**
 * The sendfile engine reopens a marked file by path: only when it is still
 * the same regular file (device, inode, size), and never through a symlink
 * in the last component; otherwise the app's own stream is sent instead.
 */
import assert from "node:assert/strict";
import { markFileBody } from "./http_file_body.ts";
import { type HttpListener, listenHttp } from "./http_server.ts";

Deno.test("sendfile reopen: same file by sendfile; a symlink or another identity is streamed", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "mesh-respond-" }));
  const path = `${dir}/file.bin`;
  const size = 200_000;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
  await Deno.writeFile(path, data);
  // a symlink to the very same inode: following it would pass the inode check
  await Deno.symlink(path, `${dir}/link.bin`);
  const ac = new AbortController();
  const srv: HttpListener = listenHttp(async (req) => {
    const q = new URL(req.url).searchParams;
    const file = await Deno.open(path);
    const info = await file.stat();
    const body = file.readable;
    markFileBody(body, {
      path: q.has("link") ? `${dir}/link.bin` : path,
      start: 0,
      length: size,
      dev: q.has("otherdev") ? info.dev + 1 : info.dev,
      ino: info.ino!,
      size,
    });
    return new Response(body, { headers: { "content-length": String(size) } });
  }, { hostname: "127.0.0.1", port: 0, signal: ac.signal });
  const get = async (query: string) => {
    const res = await fetch(`http://127.0.0.1:${srv.addr.port}/${query}`);
    return new Uint8Array(await res.arrayBuffer());
  };
  try {
    assert.deepEqual(await get(""), data);
    assert.equal(srv.stats.sendfileBytes, size);
    assert.equal(srv.stats.streamedBytes, 0);
    for (const query of ["?link", "?otherdev"]) {
      const before: { sendfile: number; streamed: number } = {
        sendfile: srv.stats.sendfileBytes,
        streamed: srv.stats.streamedBytes,
      };
      assert.deepEqual(await get(query), data, query);
      assert.equal(srv.stats.sendfileBytes, before.sendfile, query);
      assert.equal(srv.stats.streamedBytes, before.streamed + size, query);
    }
  } finally {
    ac.abort();
    await srv.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
