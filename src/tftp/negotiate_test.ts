import assert from "node:assert/strict";
import { negotiate } from "./negotiate.ts";

const opts = (o: Record<string, string>) => new Map(Object.entries(o));

Deno.test("no options: RFC 1350 defaults and no OACK", () => {
  assert.deepEqual(negotiate(new Map(), 100), {
    blksize: 512,
    windowsize: 1,
    timeoutMs: null,
    oack: null,
  });
});

Deno.test("blksize is clamped to the path MTU (8192 on 1500 gives 1468)", () => {
  const n = negotiate(opts({ blksize: "8192" }), 10);
  assert.equal(n.blksize, 1468);
  assert.equal(n.oack?.get("blksize"), "1468");
  assert.equal(negotiate(opts({ blksize: "8192" }), 10, { mtu: 9000 }).blksize, 8192);
  assert.equal(negotiate(opts({ blksize: "70000" }), 10, { mtu: 65535 }).blksize, 65464);
  assert.equal(negotiate(opts({ blksize: "1024" }), 10).blksize, 1024);
});

Deno.test("invalid values are ignored, not refused", () => {
  const n = negotiate(opts({ blksize: "7", timeout: "0", windowsize: "0", tsize: "x" }), 10);
  assert.equal(n.oack, null);
  assert.equal(n.blksize, 512);
  assert.equal(negotiate(opts({ timeout: "256" }), 1).oack, null);
  assert.equal(negotiate(opts({ blksize: "-1" }), 1).oack, null);
  assert.equal(negotiate(opts({ blksize: "1e3" }), 1).oack, null);
});

Deno.test("tsize answers the size; timeout and windowsize are accepted within limits", () => {
  const n = negotiate(opts({ tsize: "0", timeout: "3", windowsize: "200", foo: "bar" }), 12345);
  assert.equal(n.oack?.get("tsize"), "12345");
  assert.equal(n.oack?.get("timeout"), "3");
  assert.equal(n.timeoutMs, 3000);
  assert.equal(n.windowsize, 64);
  assert.equal(n.oack?.get("windowsize"), "64");
  assert.equal(n.oack?.has("foo"), false);
  assert.equal(negotiate(opts({ tsize: "0" }), 5, { sizeKnown: false }).oack, null);
});
