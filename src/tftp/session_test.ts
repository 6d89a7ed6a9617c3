import assert from "node:assert/strict";
import fc from "fast-check";
import {
  initialState,
  lastBlockFor,
  type SessionAction,
  type SessionConfig,
  type SessionState,
  step,
} from "./session.ts";

const base: SessionConfig = {
  size: 2000,
  blksize: 512,
  windowsize: 1,
  oack: false,
  timeoutMs: 1000,
  maxTimeoutMs: 8000,
  retries: 5,
};

function run(s: SessionState, ...events: Parameters<typeof step>[1][]) {
  let actions: SessionAction[] = [];
  for (const e of events) [s, actions] = step(s, e);
  return { s, actions };
}

Deno.test("the last block is always short, an exact multiple ends with an empty block", () => {
  assert.equal(lastBlockFor(0, 512), 1);
  assert.equal(lastBlockFor(511, 512), 1);
  assert.equal(lastBlockFor(512, 512), 2);
  assert.equal(lastBlockFor(513, 512), 2);
});

Deno.test("lock-step transfer without options finishes after the last ACK", () => {
  let { s, actions } = run(initialState(base), { type: "start" });
  assert.deepEqual(actions[0], { type: "send-blocks", from: 1, to: 1 });
  for (let b = 1; b <= 3; b++) {
    ({ s, actions } = run(s, { type: "ack", block: b }));
    assert.deepEqual(actions[0], { type: "send-blocks", from: b + 1, to: b + 1 });
  }
  ({ s, actions } = run(s, { type: "ack", block: 4 }));
  assert.deepEqual(actions, [{ type: "finish" }]);
  assert.equal(s.done, true);
});

Deno.test("OACK first, then DATA 1 only after ACK 0", () => {
  let { s, actions } = run(initialState({ ...base, oack: true }), { type: "start" });
  assert.equal(actions[0]?.type, "send-oack");
  ({ s, actions } = run(s, { type: "ack", block: 1 }));
  assert.deepEqual(actions, []);
  ({ s, actions } = run(s, { type: "ack", block: 0 }));
  assert.deepEqual(actions[0], { type: "send-blocks", from: 1, to: 1 });
  assert.equal(s.retransmits, 0);
});

Deno.test("duplicate ACKs never trigger a resend (Sorcerer's Apprentice)", () => {
  let { s, actions } = run(initialState(base), { type: "start" }, { type: "ack", block: 1 });
  ({ s, actions } = run(s, { type: "ack", block: 1 }));
  assert.deepEqual(actions, []);
  ({ s, actions } = run(s, { type: "ack", block: 0 }));
  assert.deepEqual(actions, []);
  ({ s, actions } = run(s, { type: "ack", block: 9 }));
  assert.deepEqual(actions, [], "ACK for a block never sent is ignored");
  assert.equal(s.retransmits, 0);
});

Deno.test("timeouts resend with exponential backoff and give up after the retry limit", () => {
  let { s, actions } = run(initialState(base), { type: "start" });
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    ({ s, actions } = run(s, { type: "timeout" }));
    assert.deepEqual(actions[0], { type: "send-blocks", from: 1, to: 1 });
    const w = actions[1];
    if (w?.type === "wait") waits.push(w.timeoutMs);
  }
  assert.deepEqual(waits, [2000, 4000, 8000, 8000, 8000]);
  assert.equal(s.retransmits, 5);
  ({ s, actions } = run(s, { type: "timeout" }));
  assert.equal(actions[0]?.type, "fail");
});

Deno.test("windowed transfer: whole window, mid-window ACK restarts after it", () => {
  const cfg = { ...base, size: 512 * 20, windowsize: 8 };
  let { s, actions } = run(initialState(cfg), { type: "start" });
  assert.deepEqual(actions[0], { type: "send-blocks", from: 1, to: 8 });
  ({ s, actions } = run(s, { type: "ack", block: 5 }));
  assert.deepEqual(actions[0], { type: "send-blocks", from: 6, to: 13 });
  assert.equal(s.retransmits, 3);
  ({ s, actions } = run(s, { type: "ack", block: 13 }));
  assert.deepEqual(actions[0], { type: "send-blocks", from: 14, to: 21 });
  ({ s, actions } = run(s, { type: "ack", block: 22 }));
  assert.deepEqual(actions, [], "ACK 22 was never sent: ignored");
  ({ s, actions } = run(s, { type: "ack", block: 21 }));
  assert.deepEqual(actions, [{ type: "finish" }]);
});

Deno.test("block numbers roll over past 65535 (files above 32 MB at 512)", () => {
  const cfg = { ...base, size: 512 * 70000 + 100 };
  let { s } = run(initialState(cfg), { type: "start" });
  let actions: SessionAction[] = [];
  for (let b = 1; b <= 70001; b++) {
    [s, actions] = step(s, { type: "ack", block: b & 0xffff });
    if (b < 70001) assert.equal(actions[0]?.type, "send-blocks", `block ${b}`);
  }
  assert.deepEqual(actions, [{ type: "finish" }]);
  assert.equal(s.acked, 70001);
});

/**
 * Property: over a channel that loses and duplicates packets, a standard
 * client receives every block exactly in order, and the server finishes.
 */
Deno.test("property: lossy duplicating channel still delivers every block in order", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 40 * 512 }),
      fc.constantFrom(1, 2, 4, 16),
      fc.integer(),
      (size, windowsize, seed) => {
        // A seeded PRNG (mulberry32), not a short repeating list: a periodic
        // loss pattern can drop the same retransmission forever, which no
        // real channel does and no protocol survives.
        let t = seed >>> 0;
        const roll = () => {
          t = (t + 0x6d2b79f5) >>> 0;
          let x = Math.imul(t ^ (t >>> 15), 1 | t);
          x ^= x + Math.imul(x ^ (x >>> 7), 61 | x);
          return ((x ^ (x >>> 14)) >>> 0) % 100;
        };
        const cfg = { ...base, size, windowsize, retries: 1000, oack: windowsize > 1 };
        let s = initialState(cfg);
        let actions: SessionAction[];
        [s, actions] = step(s, { type: "start" });
        let expected = 1;
        const received: number[] = [];
        let clientDone = false;
        for (let round = 0; round < 5000 && !s.done; round++) {
          // Server -> client.
          const toClient: number[] = [];
          for (const a of actions) {
            if (a.type === "send-oack") toClient.push(0);
            if (a.type === "send-blocks") { for (let b = a.from; b <= a.to; b++) toClient.push(b); }
          }
          const acks: number[] = [];
          for (const b of toClient) {
            const x = roll();
            if (x < 15) continue; // 15% loss
            const copies = x > 90 ? 2 : 1; // ~9% duplication
            for (let c = 0; c < copies; c++) {
              if (b === 0) {
                if (expected === 1) acks.push(0);
              } else if (b === expected && !clientDone) {
                received.push(b);
                expected++;
                const last = b === s.lastBlock;
                if (last) clientDone = true;
                if (last || (b % windowsize === 0)) acks.push(b & 0xffff);
              } else if (b > expected) {
                acks.push((expected - 1) & 0xffff); // gap: ack the last in-order block
              } else acks.push(b & 0xffff); // old duplicate: re-ack
            }
          }
          // Client -> server.
          const next: SessionAction[] = [];
          let progressed = false;
          for (const a of acks) {
            if (roll() < 15) continue;
            let got: SessionAction[];
            [s, got] = step(s, { type: "ack", block: a });
            if (got.length > 0) progressed = true;
            next.push(...got);
          }
          if (!progressed && !s.done) [s, actions] = step(s, { type: "timeout" });
          else actions = next;
        }
        assert.equal(s.done, true);
        assert.equal(s.acked, s.lastBlock);
        assert.deepEqual(received, Array.from({ length: s.lastBlock }, (_, i) => i + 1));
      },
    ),
    { numRuns: 300 },
  );
});
