import assert from "node:assert/strict";
import { Pacer } from "./http_pacer.ts";

const MB = 1_000_000;
/** What the pacer leaves of a link's rate for payload: 98 % after Ethernet framing. */
const SHARE = 0.98 * 1448 / 1538;
const of = (rate: number, n: number) => Math.floor((rate * SHARE) / n);

/** Sockets as the pacer sees them: caps written, and unsent bytes the test sets. */
function sockets() {
  const caps = new Map<number, number>();
  const unsent = new Map<number, number>();
  let writes = 0;
  return {
    caps,
    unsent,
    writes: () => writes,
    cap: (fd: number, v: number) => {
      writes++;
      caps.set(fd, v);
    },
    unsentOf: (fd: number) => unsent.get(fd) ?? 0,
  };
}

function pacer(rateOf: (ip: number) => number) {
  const s = sockets();
  const p = new Pacer(rateOf, { cap: s.cap, unsent: s.unsentOf });
  return { s, p };
}

Deno.test("downloads on one link share 98 % of its payload rate", () => {
  const { s, p } = pacer(() => 100 * MB);
  const end1 = p.begin(1, 7);
  assert.equal(s.caps.get(1), of(100 * MB, 1));
  p.begin(2, 7);
  assert.equal(s.caps.get(2), of(100 * MB, 2));
  assert.equal(s.caps.get(1), of(100 * MB, 1), "running caps wait for the reshare");
  p.reshare();
  assert.equal(s.caps.get(1), of(100 * MB, 2));
  end1();
  end1(); // twice is harmless
  p.reshare();
  assert.equal(p.active, 1, "a drained download stops counting");
  assert.equal(s.caps.get(2), of(100 * MB, 1));
  p.closed(2);
  assert.equal(p.active, 0);
});

Deno.test("a finished download counts while its socket still holds unsent bytes", () => {
  const { s, p } = pacer(() => 100 * MB);
  const end1 = p.begin(1, 7);
  p.begin(2, 7);
  p.reshare();
  s.unsent.set(1, 4 * MB);
  end1();
  p.reshare();
  assert.equal(p.active, 2);
  assert.equal(s.caps.get(2), of(100 * MB, 2), "the other is not raised yet");
  assert.equal(s.caps.get(1), of(100 * MB, 2), "the draining one keeps its share");
  // the next download on the same connection takes the same place
  p.begin(1, 7);
  assert.equal(p.active, 2);
  s.unsent.set(1, 0);
  p.closed(1);
  p.reshare();
  assert.equal(s.caps.get(2), of(100 * MB, 1));
});

Deno.test("links are shared separately, and a link of unknown rate is not paced", () => {
  const { s, p } = pacer((ip) => (ip === 1 ? 100 * MB : 0));
  p.begin(10, 1);
  p.begin(11, 1);
  p.begin(20, 2);
  p.reshare();
  assert.equal(s.caps.get(10), of(100 * MB, 2));
  assert.equal(s.caps.get(20), undefined);
  assert.equal(p.active, 2);
});

Deno.test("after a reshare no cap is over its share, and none far below", () => {
  const { s, p } = pacer(() => 125 * MB);
  const ends = [];
  // a storm's ramp: reshares between batches of 50 new downloads
  for (let fd = 0; fd < 1000; fd++) {
    ends.push(p.begin(fd, 1));
    if (fd % 50 === 49) p.reshare();
  }
  assert.ok(s.writes() < 1000 * 25, `writes ${s.writes()}`);
  const check = (n: number, fds: number[]) => {
    const share = (125 * MB * SHARE) / n;
    for (const fd of fds) {
      const v = s.caps.get(fd)!;
      assert.ok(v <= share * 1.01 && v >= share * 0.95, `fd ${fd}: cap ${v}, share ${share}`);
    }
  };
  check(1000, [...Array(1000).keys()]);
  for (const end of ends.slice(0, 990)) end();
  p.reshare();
  check(10, [...Array(10).keys()].map((i) => 990 + i));
});
