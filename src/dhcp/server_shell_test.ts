import assert from "node:assert/strict";
import { MessageType } from "./constants.ts";
import { decodePacket } from "./packet.ts";
import { buildReply } from "./reply.ts";
import type { Link } from "./server_links.ts";
import { type Outgoing, ServerShell } from "./server_shell.ts";
import { newStats } from "./server_stats.ts";
import { loadDhcpFixture } from "../testing/dhcp_factories.ts";

const DISCOVER = decodePacket(await loadDhcpFixture("ipxe_discover.hex"));

/** A transport whose kernel queue is full for the first `fullFor` sends. */
function fakeLink(fullFor: number) {
  let calls = 0;
  const sent: number[] = [];
  const transport = {
    stats: { sendRetries: 0 },
    lastSendErrno: 0,
    queueFull: false,
    send(payload: Uint8Array) {
      calls++;
      if (calls <= fullFor) {
        transport.queueFull = true;
        transport.lastSendErrno = 105;
        return false;
      }
      transport.queueFull = false;
      transport.lastSendErrno = 0;
      sent.push(payload.length);
      return true;
    },
  };
  const link = {
    itf: { name: "eth-test" },
    segment: "s",
    broadcastIp: 0,
    transport,
    probe: undefined,
    scratch: new Uint8Array(1500),
  } as unknown as Link;
  return { link, sent, calls: () => calls };
}

function outgoing(): Outgoing {
  const packet = buildReply(DISCOVER, {
    type: MessageType.Offer,
    serverId: 0x0a000001,
    yiaddr: 0x0a000064,
    options: [],
  });
  return {
    req: DISCOVER,
    d: { kind: "reply", packet, destination: { kind: "broadcast" }, changes: [], reason: "t" },
    ctx: {} as Outgoing["ctx"],
  };
}

Deno.test("a reply refused for a full queue is sent again later, and the hook hears it once", async () => {
  const heard: boolean[] = [];
  const stats = newStats();
  const shell = new ServerShell(
    stats,
    { respond: () => ({}) as never },
    undefined,
    (_r, _d, ok) => {
      heard.push(ok);
    },
    Date.now,
  );
  const { link, sent } = fakeLink(2);
  assert.equal(shell.send(link, outgoing()), false);
  assert.equal(shell.waitingRetry, 1);
  assert.deepEqual(heard, []);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sent.length, 1);
  assert.deepEqual(heard, [true]);
  assert.equal(stats.offers, 1);
  assert.equal(stats.dropped.sendFailures, 0);
  assert.equal(stats.sendRetries, 2);
  assert.equal(shell.waitingRetry, 0);
});

Deno.test("a reply still refused after the later retries is a counted send failure", async () => {
  const heard: boolean[] = [];
  const stats = newStats();
  const shell = new ServerShell(
    stats,
    { respond: () => ({}) as never },
    undefined,
    (_r, _d, ok) => {
      heard.push(ok);
    },
    Date.now,
  );
  const { link, calls } = fakeLink(Infinity);
  shell.send(link, outgoing());
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(calls(), 5);
  assert.deepEqual(heard, [false]);
  assert.equal(stats.dropped.sendFailures, 1);
  assert.equal(stats.offers, 0);
});

Deno.test("stopping drops the replies waiting for a retry (no timer left)", () => {
  const shell = new ServerShell(
    newStats(),
    { respond: () => ({}) as never },
    undefined,
    undefined,
    Date.now,
  );
  shell.send(fakeLink(Infinity).link, outgoing());
  assert.equal(shell.waitingRetry, 1);
  shell.cancelRetries();
  assert.equal(shell.waitingRetry, 0);
});
