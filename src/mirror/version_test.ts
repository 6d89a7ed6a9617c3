import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compareVersions,
  isValidVersion,
  satisfies,
  type VersionOp,
  versionOpFrom,
} from "./version.ts";

/** "a op b" lines; `!op` means the comparison must be false (apk-tools test/unit/version.data). */
const APK_TOOLS_VECTORS = `
2.34 > 0.1.0_alpha
23_foo > 4_beta
1.0 < 1.0bc
0.1.0_alpha = 0.1.0_alpha
0.1.0_alpha2 > 0.1.0_alpha
2.2.39-r1 > 1.0.4-r3
1.0.4-r3 < 1.0.4-r4
1.1 > 1.1_alpha1
1.2.1 > 1.2
1.3_alpha2 < 1.3_alpha3
0.7.0 < 0.8_beta1
3.10.18-r1 > 2.3.0b-r1
2.3.0b-r1 < 2.3.0b-r2
0.12.3 > 0.12
1.2.11 < 1.2.12.1
1.06-r6 < 006
006 > 1.0.0
1.2.2-r1 > 1.2.2
2.59 < 20050718-r1
3.9.8-r5 > 2.01.01_alpha10
1.0 > 0.99.3.20040818
1.39 > 1.00_beta2
4.2.52_p2-r1 < 4.2.52_p4-r2
1.02.07 < 1.02.10-r1
2.18.3-r10 > 1.05-r18
1.05-r18 < 1.05-r19
2.11-r1 > 2.11
10-r1 > 4
20060720 > 3.0.20060720
0.7.18-r2 < 0.17-r6
2.1.9.200602141850 > 1.6
2.5.1-r8 < 2.5.1a-r1
1.3.5-r10 > 1.3.5-r8
2.0.0_rc3-r1 > 1.5
3.0.0-r2 < 021109-r3
3.9_pre20060124 > 0.01
1.1.7 < 6b-r7
0.10.0 < 0.10.1_rc1
1.1a < 1.3a
0.15.1b-r2 > 0.15.1b
22.7.3-r1 > 22.7
2.10.1 > 02.08.01b
1.6d > 1.2.07.8
1.2.07.8 < 1.2.12.04
0.1_pre20060810 < 0.1_pre20060817
0.59s-r11 < 0.65
0.20070118 < 0.20070207_rc1
4.5_p1-r1 > 4.5_p1
0.9.8c-r1 < 0.9.8d
1.7 < 1.7b
1.8.5 < 1.8.5_p2
2.9.11_pre20051101-r3 > 2.9.11_pre20051101
1.6.8_p12-r1 > 1.6.8_p9-r2
0.9.28-r2 < 0.9.28.1
087-r1 < 103
104-r11 > 104-r9
2.12r-r4 < 2.12r-r5
7.0.17 < 7.0.174
1.3_pre1-r1 < 1.3.2
1.0_p10-r0 > 1.0_p9-r0
0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
6.0_pre1 < 6.0
6.0_p1 > 6.0
8.2.0 < 8.2.001
8.2.0015 < 8.2.002
1.0~1234 < 1.0~2345
1.0~1234-r1 < 1.0~2345-r0
1.0~1234-r1 > 1.0~1234-r0
3.6.0 ~ 3.6
3.6.9 ~ 3.6
3.6_pre1 ~ 3.6
3.6.0_pre1 ~ 3.6
3.6.9_post1 ~ 3.6
3.6.0 ~ 3.6.0
3.5 <~ 3.6
3.7 >~ 3.6
3.6.0 !~ 3.8
3.8 !~ 3.8.1
3.8.0.1 !~ 3.8.1
3.6_pre1 !~ 3.8
`;

/** Pairs from Alpine's own packages (v3.18–3.21 main/community), oldest first. */
const ALPINE_PAIRS: readonly [string, string][] = [
  ["1.2.4_git20230717-r4", "1.2.5-r0"], // musl
  ["1.36.1-r5", "1.36.1-r29"], // busybox: revisions compare as numbers
  ["3.3.1-r3", "3.3.2-r0"], // openssl
  ["6.6.9-r0", "6.6.58-r0"], // linux-lts
  ["2024a-r1", "2024b-r0"], // tzdata: a letter after the digits
  ["9.9-r0", "9.9_p1-r2"], // openssh: _p is after the release
  ["9.9_p1-r2", "9.9_p2-r0"],
  ["20240226-r0", "20240705-r0"], // ca-certificates
  ["132.0_beta1-r0", "132.0-r0"], // firefox beta before release
  ["74.2_rc1-r0", "74.2-r0"], // icu
  ["0.5.12-r3", "0.5.12.1-r0"], // dash
  ["2.14.4-r1", "2.14.10-r0"], // apk-tools: 4 < 10, not as text
  ["3.20.3-r0", "3.21.0-r0"], // alpine-base
  ["1.0.0_alpha20230101-r0", "1.0.0_beta1-r0"],
  ["1.0_git20240101-r0", "1.0_p1-r0"], // _git ranks below _p
  ["0.54-r1", "0.55.1-r0"], // openrc
  ["1.2.13-r1", "1.3.1-r1"], // zlib
];

Deno.test("compareVersions() and satisfies() agree with apk-tools' own test vectors", () => {
  let n = 0;
  for (const raw of APK_TOOLS_VECTORS.trim().split("\n")) {
    const [a, opText, b] = raw.split(" ") as [string, string, string];
    const negate = opText.startsWith("!");
    const op = versionOpFrom(negate ? opText.slice(1) : opText);
    assert.ok(op, raw);
    assert.equal(satisfies(a, op, b), !negate, raw);
    if (op === "<" || op === ">" || op === "=") {
      const want = op === "<" ? -1 : op === ">" ? 1 : 0;
      assert.equal(compareVersions(a, b), want, raw);
      assert.equal(compareVersions(b, a), -want || 0, `${raw} (reversed)`);
    }
    n++;
  }
  assert.ok(n >= 80);
});

Deno.test("compareVersions() orders real Alpine package versions", () => {
  for (const [older, newer] of ALPINE_PAIRS) {
    assert.equal(compareVersions(older, newer), -1, `${older} < ${newer}`);
    assert.equal(compareVersions(newer, older), 1, `${newer} > ${older}`);
  }
  const order = ["1.0_alpha", "1.0_beta", "1.0_pre", "1.0_rc", "1.0", "1.0_cvs", "1.0_svn"]
    .concat(["1.0_git", "1.0_hg", "1.0_p", "1.0a", "1.0.1"]);
  assert.deepEqual([...order].reverse().sort(compareVersions), order);
});

Deno.test("compareVersions() follows apk on the corner cases", () => {
  const cases: [string, string, -1 | 0 | 1, string][] = [
    ["1.0-r0", "1.0", 1, "an explicit -r0 sorts after no revision, as in apk"],
    ["1.0~abc", "1.0-r1", 1, "a commit token ranks above a revision when the rest is equal"],
    ["1.01", "1.1", -1, "leading zero: text order"],
    ["1.010", "1.01", 1, "leading zero: longer text after a common prefix"],
    ["01.0", "1.0", 0, "the first component is always a number"],
    ["1.0", "1.0bc", -1, "invalid continuation: compared up to the bad token"],
    ["", "0", -1, "the empty string is invalid and sorts first"],
    ["", "", 0, "two invalid versions that fail alike are equal"],
    ["18446744073709551616", "0", 0, "apk's uint64 wraps: 2^64 reads as 0"],
    ["99999999999999999999", "99999999999999999998", 1, "big numbers still compare"],
  ];
  for (const [a, b, want, why] of cases) {
    assert.equal(compareVersions(a, b), want, `${a} vs ${b}: ${why}`);
  }
});

Deno.test("isValidVersion() accepts apk's grammar and rejects the rest", () => {
  const valid = ["1.2", "0.1_pre2", "0.1_pre2~1234abcd", "0.1_p1_pre2", "0.1_alpha1_pre2"]
    .concat(["0.1_git20240101_pre1", "1.36.1-r29", "2024b-r0", "9.9_p1-r2", "1.0~deadbeef-r3"]);
  const invalid = ["", "0.1bc", "0.1bc1", "0.1a1", "0.1a.1", "0.1_pre2~", "0.1_pre2~1234xbcd"]
    .concat(["0.1_pre2~1234abcd_pre1", "0.1_pre2-r1~1234xbcd", "0.1_foobar", "0.1_foobar1"])
    .concat(["0.1-pre1.1", "0.1-r", "0.1-r2_pre1", "0.1-r2_p3_pre1", "0.1-r2-r3", "0.1-r2.1"])
    .concat([".1", "a", "_pre1", "-r1", "0.1_", "0.1_-r0", "0.1__alpha", "0.1_1_alpha"])
    .concat(["1.0A", "1.0~ABC", "1.0 ", "1..0", "1.0_constructor"]);
  for (const v of valid) assert.ok(isValidVersion(v), v);
  for (const v of invalid) assert.ok(!isValidVersion(v), JSON.stringify(v));
});

Deno.test("versionOpFrom() maps apk's operator characters", () => {
  const want: [string, VersionOp | null][] = [
    ["<", "<"],
    ["<=", "<="],
    ["=", "="],
    ["==", "="],
    [">=", ">="],
    [">", ">"],
    ["~", "~"],
    ["=~", "~"],
    ["<~", "<~"],
    [">~", ">~"],
    ["><", null],
    ["", null],
    ["!", null],
  ];
  for (const [text, op] of want) assert.equal(versionOpFrom(text), op, text);
});

/** Random versions in apk's grammar: digit{.digit}{letter}{_suffix{#}}{~hash}{-r#}. */
const versionArb = fc.record({
  nums: fc.array(fc.oneof(fc.nat(30).map(String), fc.constantFrom("0", "00", "01", "010", "099")), {
    minLength: 1,
    maxLength: 4,
  }),
  letter: fc.option(fc.constantFrom("a", "b", "z"), { nil: "" }),
  suffixes: fc.array(
    fc.tuple(
      fc.constantFrom("alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"),
      fc.option(fc.nat(20).map(String), { nil: "" }),
    ).map(([s, n]) => `_${s}${n}`),
    { maxLength: 2 },
  ),
  hash: fc.option(fc.constantFrom("~0", "~1a", "~abc", "~f00d"), { nil: "" }),
  rev: fc.option(fc.nat(12).map((n) => `-r${n}`), { nil: "" }),
}).map((v) => v.nums.join(".") + v.letter + v.suffixes.join("") + v.hash + v.rev);

Deno.test("compareVersions() is a total order on valid versions (property)", () => {
  fc.assert(
    fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
      assert.ok(isValidVersion(a), a);
      assert.equal(compareVersions(a, a), 0);
      assert.equal(compareVersions(a, b), -compareVersions(b, a) || 0);
      if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0) {
        assert.ok(compareVersions(a, c) <= 0, `${a} <= ${b} <= ${c}`);
      }
      assert.equal(satisfies(a, ">=", b), compareVersions(a, b) >= 0);
      assert.equal(satisfies(a, "<", b), compareVersions(a, b) < 0);
      assert.equal(satisfies(a, "=", b), compareVersions(a, b) === 0);
    }),
    { numRuns: 3000 },
  );
});

Deno.test("satisfies(~) matches by leading components (property)", () => {
  const numbers = fc.array(fc.integer({ min: 1, max: 40 }).map(String), {
    minLength: 1,
    maxLength: 3,
  });
  fc.assert(
    fc.property(numbers, numbers, (prefix, more) => {
      const want = prefix.join(".");
      assert.ok(satisfies(`${want}.${more.join(".")}`, "~", want));
      assert.ok(satisfies(`${want}-r3`, "~", want));
      // 1.20 is not "~1.2": components, not characters.
      assert.ok(!satisfies(`${want}0`, "~", want));
    }),
  );
});

Deno.test("compareVersions() never throws and stays antisymmetric on any text (property)", () => {
  const text = fc.oneof(fc.string({ maxLength: 12 }), versionArb.map((v) => v + "x"));
  fc.assert(
    fc.property(text, text, (a, b) => {
      assert.equal(compareVersions(a, b), -compareVersions(b, a) || 0);
      isValidVersion(a);
    }),
    { numRuns: 2000 },
  );
});
