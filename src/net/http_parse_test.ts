import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_HEAD_LIMITS, type HeadResult, parseRequestHead } from "./http_parse.ts";

const enc = new TextEncoder();
function parse(text: string): HeadResult {
  return parseRequestHead(enc.encode(text));
}
function head(text: string) {
  const r = parse(text);
  assert.equal(r.kind, "request", JSON.stringify(r));
  return (r as Extract<HeadResult, { kind: "request" }>).head;
}

Deno.test("parse: a curl GET with keep-alive and headers", () => {
  const text = "GET /boot/x.bin?a=1 HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: curl/8\r\n" +
    "Accept: */*\r\nRange:  bytes=0-0 \r\n\r\nNEXT";
  const h = head(text);
  assert.equal(h.method, "GET");
  assert.equal(h.target, "/boot/x.bin?a=1");
  assert.equal(h.minor, 1);
  assert.equal(h.host, "10.0.0.1");
  assert.equal(h.keepAlive, true);
  assert.equal(h.headLength, text.length - 4);
  assert.deepEqual(h.headers.find(([n]) => n === "range"), ["range", "bytes=0-0"]);
});

Deno.test("parse: keep-alive rules of 1.0 and 1.1, bare LF, leading blank line", () => {
  assert.equal(head("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
  assert.equal(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAlive, true);
  assert.equal(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keepAlive, false);
  assert.equal(head("GET / HTTP/1.1\nHost: a\n\n").target, "/");
  assert.equal(head("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").headLength, 29);
});

Deno.test("parse: incomplete until the blank line; too large is 431", () => {
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\n").kind, "incomplete");
  assert.equal(parse("GET / HTTP/1.1\r\nHost: a\r\n\r").kind, "incomplete");
  const big = "GET / HTTP/1.1\r\nX: " + "a".repeat(DEFAULT_HEAD_LIMITS.maxHeadBytes);
  assert.deepEqual(parse(big), { kind: "error", status: 431, reason: "head too large" });
});

Deno.test("parse: Content-Length within the limit is accepted, over it 413", () => {
  assert.equal(head("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n").contentLength, 5);
  assert.equal(
    head("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").contentLength,
    5,
  );
  const r = parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n\r\n");
  assert.equal(r.kind === "error" && r.status, 413);
});

/** Malformed heads and the status each must get. */
const CORPUS: [string, number][] = [
  ["GET /\r\n\r\n", 400],
  ["GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400],
  ["GET / FOO/1.1\r\nHost: a\r\n\r\n", 400],
  ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
  ["GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400],
  ["G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\n\r\n", 400], // no Host in 1.1
  ["GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\nX\x00: v\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400],
  ["GET / HTTP/1.1\rHost: a\r\n\r\n", 400],
  ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400],
  ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", 400],
  ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400],
  ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400],
  ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501],
  ["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400],
  ["GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417],
  ["\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400], // TLS hello
];

Deno.test("parse: malformed corpus gets the expected error status", () => {
  for (const [text, status] of CORPUS) {
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
    const r = parseRequestHead(bytes);
    assert.equal(r.kind, "error", JSON.stringify(text));
    assert.equal(r.kind === "error" && r.status, status, JSON.stringify(text));
  }
});

Deno.test("parse: too many headers is 431", () => {
  const many = "GET / HTTP/1.1\r\nHost: a\r\n" + "X: 1\r\n".repeat(101) + "\r\n";
  const r = parse(many);
  assert.equal(r.kind === "error" && r.status, 431);
});

Deno.test("parse property: any bytes give a decision, never an exception", () => {
  const base = enc.encode("GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat(base.length), byte: fc.nat(255) }), { maxLength: 8 }),
      fc.uint8Array({ maxLength: 64 }),
      (edits, tail) => {
        const b = new Uint8Array(base.length + tail.length);
        b.set(base);
        b.set(tail, base.length);
        for (const e of edits) b[e.at] = e.byte;
        const r = parseRequestHead(b);
        assert.ok(r.kind === "incomplete" || r.kind === "error" || r.kind === "request");
        if (r.kind === "request") {
          assert.ok(r.head.headLength <= b.length);
          // everything a request carries can go into a WHATWG Headers object
          new Headers(r.head.headers as [string, string][]);
        }
      },
    ),
    { numRuns: 20_000 },
  );
});

Deno.test("parse fuzz: 300,000 mutated heads never throw", () => {
  const base = enc.encode(
    "GET /boot/vmlinuz HTTP/1.1\r\nHost: 10.0.0.1\r\nRange: bytes=1-\r\nConnection: close\r\n\r\n",
  );
  const b = new Uint8Array(base.length);
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  const counts = { request: 0, error: 0, incomplete: 0 };
  for (let i = 0; i < 300_000; i++) {
    b.set(base);
    const n = 1 + (rnd() % 4);
    for (let k = 0; k < n; k++) b[rnd() % b.length] = rnd() & 0xff;
    counts[parseRequestHead(b).kind]++;
  }
  // mutations hit every outcome (a mutation in the header value often still parses)
  assert.ok(
    counts.request > 0 && counts.error > 0 && counts.incomplete > 0,
    JSON.stringify(counts),
  );
});
