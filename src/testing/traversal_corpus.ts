/**
 * @module
 * Test helpers for src/files/testdata/traversal_corpus.txt: the decoder of
 * its escapes and the temporary root with the symlink fixtures its header
 * describes. Test-only; shared by the file, TFTP and HTTP tests.
 */

const CORPUS_URL = new URL("../files/testdata/traversal_corpus.txt", import.meta.url);

/** Decodes one corpus line: "\xNN" is a raw byte, everything else UTF-8. */
export function decodeCorpusLine(line: string): Uint8Array {
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < line.length;) {
    const m = /^\\x([0-9a-fA-F]{2})/.exec(line.slice(i, i + 4));
    if (m) {
      out.push(parseInt(m[1]!, 16));
      i += 4;
      continue;
    }
    const cp = line.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    out.push(...enc.encode(ch));
    i += ch.length;
  }
  return new Uint8Array(out);
}

/** Every hostile path of the corpus, as raw bytes. */
export async function loadTraversalCorpus(): Promise<Uint8Array[]> {
  const text = await Deno.readTextFile(CORPUS_URL);
  return text.split("\n")
    .filter((l) => l.length > 0 && !l.startsWith("#"))
    .map(decodeCorpusLine);
}

/** A temporary tree: `<base>/root` (served), `<base>/outside` and `<base>/secret.txt`. */
export interface CorpusFixture {
  readonly base: string;
  readonly root: string;
  /** Content of every file outside the root; a response equal to it is a leak. */
  readonly secret: Uint8Array;
  /** Content of `root/inside.bin`. */
  readonly inside: Uint8Array;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Builds the fixture tree with the symlinks named in the corpus header. */
export async function createCorpusFixture(): Promise<CorpusFixture> {
  const base = await Deno.makeTempDir({ prefix: "mesh-traversal-" });
  const root = `${base}/root`;
  const outside = `${base}/outside`;
  const secret = new TextEncoder().encode("SECRET-OUTSIDE-THE-ROOT\n");
  const inside = new TextEncoder().encode("inside the root\n");
  await Deno.mkdir(`${root}/sub`, { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeFile(`${outside}/secret.txt`, secret);
  await Deno.writeFile(`${base}/secret.txt`, secret);
  await Deno.writeFile(`${root}/inside.bin`, inside);
  const links: [string, string][] = [
    ["link-out", `${outside}/secret.txt`],
    ["link-rel", "../outside/secret.txt"],
    ["link-outdir", outside],
    ["link-root", "/"],
    ["link-dev", "/dev/zero"],
    ["link-loop", "link-loop"],
    ["link-chain", "link-out"],
    ["sub/link-up", "../.."],
    ["link-proc", "/proc"],
    ["link-dir-in", "sub"],
  ];
  for (const [name, target] of links) await Deno.symlink(target, `${root}/${name}`);
  const fifo = await new Deno.Command("mkfifo", { args: [`${outside}/fifo`] }).output()
    .catch(() => null);
  if (fifo?.success) await Deno.symlink(`${outside}/fifo`, `${root}/link-fifo`);
  return {
    base,
    root,
    secret,
    inside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}
