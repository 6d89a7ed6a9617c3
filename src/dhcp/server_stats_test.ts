import assert from "node:assert/strict";
import { MessageType } from "./constants.ts";
import { countDecision, countIgnore, newStats } from "./server_stats.ts";

Deno.test("server stats: decisions by request type stay a small set whatever arrives", () => {
  const s = newStats();
  countDecision(s, MessageType.Discover, "reply");
  countDecision(s, MessageType.Discover, "reply");
  countDecision(s, MessageType.Request, "ignore");
  countDecision(s, undefined, "ignore");
  for (let t = 9; t < 256; t++) countDecision(s, t, "ignore");
  assert.deepEqual(s.decisions, {
    "DISCOVER reply": 2,
    "REQUEST ignore": 1,
    "BOOTP ignore": 1,
    "OTHER ignore": 247,
  });
  // ignore reasons are counted by shape: no address becomes a key of its own
  countIgnore(s, "client chose server 10.0.0.1");
  countIgnore(s, "client chose server 10.0.0.2");
  assert.deepEqual(s.ignoreReasons, { "client chose server #.#.#.#": 2 });
});
