/**
 * The traversal corpus shared with TFTP (src/files/testdata/traversal_corpus.txt)
 * run against every static tree: no request may return a byte from outside
 * the served root. Each corpus path is sent twice: as written (the URL parser
 * normalises what it can) and with every byte percent-encoded (so `..`, `/`
 * and `\` reach our guard untouched).
 */
import assert from "node:assert/strict";
import { makeFixture } from "./_app_fixture.ts";

const CORPUS = new URL("../files/testdata/traversal_corpus.txt", import.meta.url);

/** Built-in cases, always run (the shared corpus adds to them). */
const BUILTIN = [
  "../outside/secret.txt",
  "..\\outside\\secret.txt",
  "%2e%2e/outside/secret.txt",
  "....//outside/secret.txt",
  "/etc/passwd",
  "escape.txt",
  "vmlinuz-lts/../../outside/secret.txt",
  "C:\\windows\\win.ini",
  "a\x00b",
  "../../../../../../etc/passwd",
];

/** Unescapes the corpus notation: one path per line, `#` comments, \xNN and \\ escapes. */
function corpusLines(text: string): string[] {
  return text.split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.replace(/\\x([0-9a-fA-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
}

async function loadCorpus(): Promise<{ paths: string[]; shared: boolean }> {
  try {
    const shared = corpusLines(await Deno.readTextFile(CORPUS));
    return { paths: [...BUILTIN, ...shared], shared: true };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return { paths: BUILTIN, shared: false };
  }
}

function encodeAll(path: string): string {
  return [...new TextEncoder().encode(path)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join(
    "",
  );
}

Deno.test("traversal: no corpus path serves a byte from outside the root", async () => {
  const { paths, shared } = await loadCorpus();
  if (!shared) console.warn("traversal corpus not found yet; built-in cases only");
  await using f = await makeFixture();
  const inside = new Set<string>();
  for (const name of ["vmlinuz-lts", "initramfs-lts", "ipxe.efi", "menu.ipxe"]) {
    inside.add(new TextDecoder("latin1").decode(await Deno.readFile(`${f.dir}/boot/${name}`)));
  }
  let served = 0;
  for (const p of paths) {
    for (const prefix of ["/boot/", "/alpine/", "/isos/"]) {
      for (const url of [prefix + p, prefix + encodeAll(p)]) {
        let res: Response;
        try {
          res = await f.req(url);
        } catch {
          continue; // not even a valid URL: nothing served
        }
        const body = new TextDecoder("latin1").decode(await res.arrayBuffer());
        assert.ok(!body.includes("secret"), `${url} leaked the outside file`);
        assert.ok(!body.includes("root:x:0:0"), `${url} leaked /etc/passwd`);
        if (res.status === 200) {
          served++;
          // only files inside the served tree may come back
          assert.ok(
            prefix === "/boot/" ? inside.has(body) : body.length > 0,
            `${url} served unknown bytes`,
          );
        } else {
          assert.ok([400, 403, 404].includes(res.status), `${url}: status ${res.status}`);
        }
      }
    }
  }
  console.log(
    `traversal: ${paths.length} paths x 3 trees x 2 encodings, ${served} served from inside`,
  );
});
