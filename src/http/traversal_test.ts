/**
 * The traversal corpus shared with TFTP (src/files/testdata/traversal_corpus.txt,
 * with its fixture tree of hostile symlinks) against every static tree: no
 * request may return a byte from outside the served root. HTTP decodes the
 * path once, so each corpus path is sent with every byte percent-encoded
 * (the bytes reach our guard exactly as written), and also as plain text
 * where it forms a valid URL (then the URL parser normalises first).
 */
import assert from "node:assert/strict";
import { createCorpusFixture, loadTraversalCorpus } from "../testing/traversal_corpus.ts";
import { MemoryCatalog, MemoryLeases, MemoryRegistry } from "../testing/http_fakes.ts";
import { createApp } from "./app.ts";

function encodeAll(path: Uint8Array): string {
  return [...path].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
}

function includes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

Deno.test("traversal: no corpus path serves a byte from outside the root", async () => {
  const corpus = await loadTraversalCorpus();
  assert.ok(corpus.length >= 200, `corpus has ${corpus.length} paths`);
  await using fx = await createCorpusFixture();
  const app = createApp({
    registry: new MemoryRegistry(),
    catalog: new MemoryCatalog(),
    leases: new MemoryLeases(),
    config: {
      publicBase: "http://10.11.0.1",
      alpineBranch: "v3.20",
      kernelPath: "/boot/vmlinuz-lts",
      initrdPath: "/boot/initramfs-lts",
      modloopPath: "/boot/modloop-lts",
      repoPath: "/alpine/v3.20/main",
      overlayAccess: "lease",
    },
    roots: { mirror: fx.root, boot: fx.root, isos: fx.root },
  });
  const latin1 = new TextDecoder("latin1");
  let served = 0;
  let requests = 0;
  for (const path of corpus) {
    for (const prefix of ["/boot/", "/alpine/", "/isos/"]) {
      const urls = [prefix + encodeAll(path), prefix + latin1.decode(path)];
      for (const url of urls) {
        let res: Response;
        try {
          res = await app.request(`http://10.11.0.1${url}`, undefined, {
            remoteAddr: { hostname: "10.11.1.2" },
          });
        } catch {
          continue; // not a URL at all: nothing can be served
        }
        requests++;
        const body = new Uint8Array(await res.arrayBuffer());
        assert.ok(!includes(body, fx.secret), `${url} leaked a file from outside the root`);
        if (res.status === 200 || res.status === 206) {
          served++;
          assert.deepEqual(body, fx.inside, `${url} served something other than inside.bin`);
        } else {
          assert.ok([400, 403, 404].includes(res.status), `${url}: status ${res.status}`);
        }
      }
    }
  }
  console.log(
    `traversal: ${corpus.length} paths, ${requests} requests, ${served} served inside.bin`,
  );
});
