import assert from "node:assert/strict";
import { Pacer } from "./http_pacer.ts";

const MB = 1_000_000;

function recorder() {
  const caps = new Map<number, number>();
  let writes = 0;
  return {
    caps,
    writes: () => writes,
    cap: (fd: number, v: number) => {
      writes++;
      caps.set(fd, v);
    },
  };
}

Deno.test("downloads on one link share 98 % of its rate; an ended one is uncapped", () => {
  const r = recorder();
  const p = new Pacer(() => 100 * MB, r.cap);
  const end1 = p.begin(1, 7);
  assert.equal(r.caps.get(1), 98 * MB);
  const end2 = p.begin(2, 7);
  assert.equal(r.caps.get(2), 49 * MB);
  assert.equal(r.caps.get(1), 98 * MB, "running caps wait for the reshare");
  p.reshare();
  assert.equal(r.caps.get(1), 49 * MB);
  assert.equal(r.caps.get(2), 49 * MB);
  end1();
  assert.equal(r.caps.get(1), 0xffffffff);
  p.reshare();
  assert.equal(r.caps.get(2), 98 * MB);
  assert.equal(p.active, 1);
  end2();
  end2(); // twice is harmless
  assert.equal(p.active, 0);
});

Deno.test("links are shared separately, and a link of unknown rate is not paced", () => {
  const r = recorder();
  const p = new Pacer((ip) => (ip === 1 ? 100 * MB : 0), r.cap);
  p.begin(10, 1);
  p.begin(11, 1);
  p.begin(20, 2);
  p.reshare();
  assert.equal(r.caps.get(10), 49 * MB);
  assert.equal(r.caps.get(20), undefined);
  assert.equal(p.active, 2);
});

Deno.test("after a reshare no cap is over its share, and none far below", () => {
  const r = recorder();
  const p = new Pacer(() => 125 * MB, r.cap);
  const ends = [];
  // a storm's ramp: reshares between batches of 50 new downloads
  for (let fd = 0; fd < 1000; fd++) {
    ends.push(p.begin(fd, 1));
    if (fd % 50 === 49) p.reshare();
  }
  assert.ok(r.writes() < 1000 * 25, `writes ${r.writes()}`);
  const check = (n: number, fds: number[]) => {
    const share = (125 * MB * 0.98) / n;
    for (const fd of fds) {
      const v = r.caps.get(fd)!;
      assert.ok(v <= share * 1.01 && v >= share * 0.95, `fd ${fd}: cap ${v}, share ${share}`);
    }
  };
  check(1000, [...Array(1000).keys()]);
  for (const end of ends.slice(0, 990)) end();
  p.reshare();
  check(10, [...Array(10).keys()].map((i) => 990 + i));
});
