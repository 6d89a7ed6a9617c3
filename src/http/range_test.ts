import assert from "node:assert/strict";
import fc from "fast-check";
import { fileEtag, ifRangeHolds, noneMatchHits, notModified } from "./conditional.ts";
import { decideRange } from "./range.ts";

Deno.test("decideRange: table", () => {
  const cases: [string | null, number, ReturnType<typeof decideRange>][] = [
    [null, 10, { kind: "full" }],
    ["bytes=0-0", 10, { kind: "partial", start: 0, end: 0 }],
    ["bytes=2-", 10, { kind: "partial", start: 2, end: 9 }],
    ["bytes=-3", 10, { kind: "partial", start: 7, end: 9 }],
    ["bytes=-30", 10, { kind: "partial", start: 0, end: 9 }],
    ["bytes=5-100", 10, { kind: "partial", start: 5, end: 9 }],
    ["BYTES = 1 - 2", 10, { kind: "partial", start: 1, end: 2 }],
    ["bytes=10-", 10, { kind: "unsatisfiable" }],
    ["bytes=10-20", 10, { kind: "unsatisfiable" }],
    ["bytes=-0", 10, { kind: "unsatisfiable" }],
    ["bytes=0-", 0, { kind: "unsatisfiable" }],
    ["bytes=-5", 0, { kind: "unsatisfiable" }],
    ["bytes=0-1,3-4", 10, { kind: "full" }],
    ["bytes=5-2", 10, { kind: "full" }],
    ["bytes=x-", 10, { kind: "full" }],
    ["chars=0-1", 10, { kind: "full" }],
    ["bytes=99999999999999999999-", 10, { kind: "full" }],
  ];
  for (const [h, size, want] of cases) {
    assert.deepEqual(decideRange(h, size), want, `${h} / ${size}`);
  }
});

Deno.test("decideRange: a partial answer always lies inside the file (property)", () => {
  fc.assert(
    fc.property(
      fc.nat(1 << 20),
      fc.oneof(
        fc.tuple(fc.nat(1 << 21), fc.option(fc.nat(1 << 21))).map(([a, b]) =>
          `bytes=${a}-${b ?? ""}`
        ),
        fc.nat(1 << 21).map((n) => `bytes=-${n}`),
        fc.string(),
      ),
      (size, header) => {
        const d = decideRange(header, size);
        if (d.kind === "partial") {
          assert.ok(d.start >= 0 && d.start <= d.end && d.end < size);
        }
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("conditional: If-None-Match lists, weak tags, star", () => {
  const tag = fileEtag(1234, new Date(1_700_000_000_000));
  assert.equal(tag, `"${(1_700_000_000).toString(16)}-4d2"`);
  assert.ok(noneMatchHits(`"a", ${tag}`, tag));
  assert.ok(noneMatchHits(`W/${tag}`, tag));
  assert.ok(noneMatchHits("*", tag));
  assert.ok(!noneMatchHits(`"a"`, tag));
});

Deno.test("conditional: If-None-Match wins over If-Modified-Since", () => {
  const mtime = new Date(1_700_000_000_500);
  const tag = fileEtag(1, mtime);
  const later = new Date(1_800_000_000_000).toUTCString();
  assert.ok(!notModified({ ifNoneMatch: '"x"', ifModifiedSince: later }, tag, mtime));
  assert.ok(notModified({ ifNoneMatch: null, ifModifiedSince: later }, tag, mtime));
  assert.ok(notModified({ ifNoneMatch: null, ifModifiedSince: mtime.toUTCString() }, tag, mtime));
  assert.ok(!notModified({ ifNoneMatch: null, ifModifiedSince: "garbage" }, tag, mtime));
  assert.ok(
    !notModified({ ifNoneMatch: null, ifModifiedSince: new Date(0).toUTCString() }, tag, mtime),
  );
});

Deno.test("conditional: If-Range needs a strong match or the exact date", () => {
  const mtime = new Date(1_700_000_000_000);
  const tag = fileEtag(1, mtime);
  assert.ok(ifRangeHolds(null, tag, mtime));
  assert.ok(ifRangeHolds(tag, tag, mtime));
  assert.ok(!ifRangeHolds(`W/${tag}`, tag, mtime));
  assert.ok(ifRangeHolds(mtime.toUTCString(), tag, mtime));
  assert.ok(!ifRangeHolds(new Date(0).toUTCString(), tag, mtime));
});
