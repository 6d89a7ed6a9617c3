import assert from "node:assert/strict";
import fc from "fast-check";
import { NetasciiReader, netasciiSize, toNetascii } from "./netascii.ts";

function convert(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(netasciiSize(src));
  toNetascii(src, out);
  return out;
}

Deno.test("LF becomes CR LF and CR becomes CR NUL", () => {
  const src = new TextEncoder().encode("a\nb\rc\r\n");
  assert.deepEqual([...convert(src)], [
    0x61,
    0x0d,
    0x0a,
    0x62,
    0x0d,
    0x00,
    0x63,
    0x0d,
    0x00,
    0x0d,
    0x0a,
  ]);
});

Deno.test("property: the reader yields the converted bytes at any forward offsets", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 300_000 }).map((a) =>
        a.map((b) => b % 4 === 0 ? 10 : b % 7 === 0 ? 13 : b)
      ),
      fc.integer({ min: 1, max: 70_000 }),
      async (src, step) => {
        const want = convert(src);
        const reader = new NetasciiReader(
          (o, n) => Promise.resolve(src.subarray(o, o + n)),
          src.length,
        );
        const got: number[] = [];
        for (let at = 0; at < want.length; at += step) {
          const v = await reader.at(at, step);
          assert.ok(v.length > 0);
          got.push(...v);
        }
        assert.deepEqual(new Uint8Array(got), want);
        // Going back restarts the conversion and still returns the right bytes.
        assert.deepEqual(await reader.at(0, 10), want.subarray(0, 10));
      },
    ),
    { numRuns: 40 },
  );
});
