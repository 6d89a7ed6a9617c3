import assert from "node:assert/strict";
import { hasStaticBody } from "./http_static_body.ts";

Deno.test("static body peek: bytes and strings are static, streams and null are not", async () => {
  // if this fails after a Deno upgrade, small responses still work, only slower
  assert.equal(hasStaticBody(new Response(new Uint8Array(4))), true);
  assert.equal(hasStaticBody(new Response("text")), true);
  assert.equal(hasStaticBody(Response.json({ a: 1 })), true);
  assert.equal(hasStaticBody(new Response(null)), false);
  assert.equal(hasStaticBody(new Response(new ReadableStream())), false);
  const used = new Response("once");
  await used.text();
  assert.equal(hasStaticBody(used), false);
});
