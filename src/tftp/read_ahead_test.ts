import assert from "node:assert/strict";
import fc from "fast-check";
import { ReadAhead, type SyncSeekRead } from "./read_ahead.ts";

/** An in-memory file that counts reads and returns short reads like a pipe could. */
function memFile(data: Uint8Array, maxRead = Infinity): SyncSeekRead & { reads: number } {
  let pos = 0;
  return {
    reads: 0,
    seekSync(offset: number) {
      pos = offset;
      return pos;
    },
    readSync(p: Uint8Array) {
      this.reads++;
      const n = Math.min(p.length, data.length - pos, maxRead);
      if (n <= 0) return null;
      p.set(data.subarray(pos, pos + n));
      pos += n;
      return n;
    },
  };
}

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

Deno.test("read-ahead: a sequential block walk copies the file exactly, one read per chunk", () => {
  const data = random(1_000_003);
  const f = memFile(data);
  const ra = new ReadAhead(f, data.length, 64 * 1024);
  const out = new Uint8Array(data.length);
  const blk = 1468;
  for (let at = 0; at < data.length; at += blk) {
    const n = ra.readInto(at, out.subarray(at, Math.min(data.length, at + blk)));
    assert.equal(n, Math.min(blk, data.length - at));
  }
  assert.deepEqual(out, data);
  // Blocks straddling chunk borders do not cause re-reads.
  assert.equal(f.reads, Math.ceil(data.length / (64 * 1024)));
  assert.equal(ra.readInto(data.length, new Uint8Array(10)), 0, "nothing past the end");
});

Deno.test("property: any mix of forward walks and restarts (retransmits) yields the file's bytes", () => {
  const data = random(300_000);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(data.length), fc.integer({ min: 1, max: 70_000 })), {
        minLength: 1,
        maxLength: 40,
      }),
      fc.integer({ min: 1, max: 9000 }),
      (reads, maxRead) => {
        const ra = new ReadAhead(memFile(data, maxRead), data.length, 32 * 1024);
        for (const [offset, length] of reads) {
          const dest = new Uint8Array(length);
          const n = ra.readInto(offset, dest);
          const expect = data.subarray(offset, offset + length);
          assert.equal(n, expect.length);
          assert.deepEqual(dest.subarray(0, n), expect);
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("read-ahead: a file that shrank under the transfer is an error, not short data", async () => {
  const data = random(200_000);
  const ra = new ReadAhead(memFile(data.subarray(0, 150_000)), data.length, 64 * 1024);
  const dest = new Uint8Array(1468);
  assert.equal(ra.readInto(0, dest), 1468);
  assert.throws(() => ra.readInto(149_000, dest), /shrank/);
  await assert.rejects(ra.read(160_000, 100), /shrank/);
});
