import assert from "node:assert/strict";
import { Reactor, type Registration } from "./reactor.ts";
import { DgramSocket } from "./dgram_socket.ts";

const LOOPBACK = 0x7f000001;

function waitFor(pred: () => boolean, ms = 3000): Promise<void> {
  const until = performance.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pred()) resolve();
      else if (performance.now() > until) reject(new Error("condition not met in time"));
      else setTimeout(check, 5);
    };
    check();
  });
}

Deno.test("dgram socket: bound to an ephemeral port, sends and receives with the source", () => {
  const a = DgramSocket.open({ address: LOOPBACK });
  const b = DgramSocket.open({ address: LOOPBACK });
  try {
    assert.ok(a.port > 0 && b.port > 0 && a.port !== b.port);
    const buf = new Uint8Array(64);
    assert.equal(b.recvInto(buf), -1, "nothing queued yet");
    assert.equal(a.sendTo(new Uint8Array([1, 2, 3]), LOOPBACK, b.port), 0);
    // Loopback delivery happens inside sendto.
    assert.equal(b.recvInto(buf), 3);
    assert.deepEqual([...buf.subarray(0, 3)], [1, 2, 3]);
    assert.equal(b.fromIp, LOOPBACK);
    assert.equal(b.fromPort, a.port);
  } finally {
    a.close();
    b.close();
  }
  assert.equal(a.fd, -1);
});

Deno.test("reactor: one loop serves many sockets in ping-pong, each answer sent from the handler", async () => {
  const reactor = new Reactor();
  const peer = DgramSocket.open({ address: LOOPBACK });
  const ROUNDS = 200;
  const counts: number[] = [];
  const regs: Registration[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const s = DgramSocket.open({ address: LOOPBACK });
      const buf = new Uint8Array(16);
      counts.push(0);
      regs.push(reactor.add(s, {
        ready() {
          while (s.recvInto(buf) >= 0) {
            counts[i]!++;
            s.sendTo(buf.subarray(0, 1), s.fromIp, s.fromPort);
          }
        },
        timeout() {},
      }));
    }
    // The peer answers every reply until each socket has seen ROUNDS datagrams.
    const pbuf = new Uint8Array(16);
    for (const r of regs) peer.sendTo(new Uint8Array([0]), LOOPBACK, (r.io as DgramSocket).port);
    const t0 = performance.now();
    while (counts.some((c) => c < ROUNDS) && performance.now() - t0 < 10_000) {
      const n = peer.recvInto(pbuf);
      if (n < 0) {
        await new Promise((r) => setTimeout(r, 0));
        continue;
      }
      const c = counts[regs.findIndex((r) => (r.io as DgramSocket).port === peer.fromPort)]!;
      if (c < ROUNDS) peer.sendTo(pbuf.subarray(0, 1), LOOPBACK, peer.fromPort);
    }
    assert.deepEqual(counts, counts.map(() => ROUNDS));
  } finally {
    peer.close();
    await reactor.close();
  }
  // Closing the reactor closed every registered socket.
  for (const r of regs) assert.equal(r.io.fd, -1);
});

Deno.test("reactor: deadlines fire once, a moved deadline fires at its new time, paused ones do not", async () => {
  const reactor = new Reactor();
  try {
    const fired: string[] = [];
    const mk = (name: string) => {
      const reg = reactor.add(DgramSocket.open({ address: LOOPBACK }), {
        ready() {},
        timeout: () => fired.push(name),
      });
      return reg;
    };
    const soon = mk("soon");
    const later = mk("later");
    const paused = mk("paused");
    // Set while the loop already waits with no deadline: it must wake up for them.
    await new Promise((r) => setTimeout(r, 20));
    soon.deadline = performance.now() + 10;
    later.deadline = performance.now() + 5000;
    later.deadline = performance.now() + 40; // moved earlier
    paused.deadline = performance.now() + 10;
    paused.paused = true;
    await waitFor(() => fired.length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(fired, ["soon", "later"]);
    assert.equal(soon.deadline, Infinity);
    paused.paused = false; // resumed: its passed deadline fires now
    await waitFor(() => fired.length === 3);
    assert.equal(fired[2], "paused");
  } finally {
    await reactor.close();
  }
});

Deno.test("reactor: a paused socket keeps its datagrams until resumed; a closed one leaves the loop", async () => {
  const reactor = new Reactor();
  const peer = DgramSocket.open({ address: LOOPBACK });
  try {
    const s = DgramSocket.open({ address: LOOPBACK });
    let got = 0;
    const buf = new Uint8Array(16);
    const reg = reactor.add(s, {
      ready() {
        while (s.recvInto(buf) >= 0) got++;
      },
      timeout() {},
    });
    reg.paused = true;
    peer.sendTo(new Uint8Array([1]), LOOPBACK, s.port);
    peer.sendTo(new Uint8Array([2]), LOOPBACK, s.port);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got, 0);
    reg.paused = false;
    await waitFor(() => got === 2);
    assert.equal(reactor.size, 1);
    reg.close();
    assert.equal(reactor.size, 0);
    assert.equal(s.fd, -1);
    // A handler that throws is removed; the loop goes on serving the others.
    const bad = DgramSocket.open({ address: LOOPBACK });
    const good = DgramSocket.open({ address: LOOPBACK });
    let served = 0;
    reactor.add(bad, {
      ready() {
        throw new Error("boom");
      },
      timeout() {},
    });
    reactor.add(good, {
      ready() {
        while (good.recvInto(buf) >= 0) served++;
      },
      timeout() {},
    });
    peer.sendTo(new Uint8Array([1]), LOOPBACK, bad.port);
    await waitFor(() => bad.fd === -1);
    peer.sendTo(new Uint8Array([1]), LOOPBACK, good.port);
    await waitFor(() => served === 1);
  } finally {
    peer.close();
    await reactor.close();
  }
});

Deno.test("reactor: a one-shot registration fires once per arm; idle hooks run when nothing is ready; othersReady peeks", async () => {
  const reactor = new Reactor();
  const peer = DgramSocket.open({ address: LOOPBACK });
  try {
    const s = DgramSocket.open({ address: LOOPBACK });
    let fired = 0;
    const reg = reactor.add(s, {
      ready() {
        fired++;
      },
      timeout() {},
    }, { oneShot: true });
    // Two datagrams queued, never read: a one-shot fd reports once, then stays disarmed.
    peer.sendTo(new Uint8Array([1]), LOOPBACK, s.port);
    peer.sendTo(new Uint8Array([2]), LOOPBACK, s.port);
    await waitFor(() => fired === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fired, 1);
    reg.arm();
    await waitFor(() => fired === 2);
    // Ready but disarmed fds are not "others ready"; an armed level-triggered one is.
    assert.equal(reactor.othersReady(), false);
    const t = DgramSocket.open({ address: LOOPBACK });
    let idle = 0;
    const unhook = reactor.onIdle(() => {
      idle++;
      return false;
    });
    await waitFor(() => idle > 0);
    unhook();
    const tReg = reactor.add(t, { ready() {}, timeout() {} });
    peer.sendTo(new Uint8Array([3]), LOOPBACK, t.port);
    assert.equal(reactor.othersReady(), true);
    tReg.close();
  } finally {
    peer.close();
    await reactor.close();
  }
});

Deno.test("reactor: the loop stops when the last registration leaves, and starts again on the next add", async () => {
  const reactor = new Reactor();
  try {
    const a = reactor.add(DgramSocket.open({ address: LOOPBACK }), { ready() {}, timeout() {} });
    a.close();
    await reactor.finished; // settles: nothing keeps the loop (or the process) alive
    let fired = false;
    const b = reactor.add(DgramSocket.open({ address: LOOPBACK }), {
      ready() {},
      timeout: () => fired = true,
    });
    b.deadline = performance.now() + 10;
    await waitFor(() => fired);
    b.close();
    await reactor.finished;
  } finally {
    await reactor.close();
  }
});
