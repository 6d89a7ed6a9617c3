import assert from "node:assert/strict";
import { parseCidr, parseIpv4 } from "../wire/mod.ts";
import type { LeaseChange, LeaseRow } from "./lease_types.ts";
import { type DhcpInterfaceOptions, startDhcpService } from "./service.ts";

function fakeStore() {
  const written: LeaseChange[] = [];
  let loads = 0;
  return {
    written,
    loads: () => loads,
    loadAll(): LeaseRow[] {
      loads++;
      return [];
    },
    writeNow(rows: readonly LeaseChange[]) {
      written.push(...rows);
    },
  };
}

function itf(over: Partial<DhcpInterfaceOptions> = {}): DhcpInterfaceOptions {
  return {
    // No such interface on any machine: opening its sockets must fail.
    name: "meshnoif0",
    serverIp: parseIpv4("10.91.0.1"),
    subnet: parseCidr("10.91.0.0/24"),
    pool: { start: parseIpv4("10.91.0.100"), end: parseIpv4("10.91.0.199") },
    leaseTime: 600,
    ...over,
  };
}

Deno.test("startDhcpService names the interface whose sockets cannot be opened", () => {
  const store = fakeStore();
  assert.throws(
    () => startDhcpService({ interfaces: [itf()], store, probe: false }),
    (e: unknown) => e instanceof Error && /interface meshnoif0/.test(e.message),
  );
  assert.equal(store.written.length, 0);
});

Deno.test("startDhcpService rejects a pool outside its subnet before touching sockets", () => {
  const store = fakeStore();
  assert.throws(
    () =>
      startDhcpService({
        interfaces: [
          itf({ pool: { start: parseIpv4("10.91.0.100"), end: parseIpv4("10.92.0.5") } }),
        ],
        store,
      }),
    /interface meshnoif0: pool address 10\.92\.0\.5 is outside its subnet/,
  );
  assert.equal(store.loads(), 0);
});

Deno.test("startDhcpService rejects a segment configured twice", () => {
  assert.throws(
    () =>
      startDhcpService({
        interfaces: [itf()],
        relayed: [{ ...itf(), segment: "meshnoif0" }],
        store: fakeStore(),
      }),
    /segment meshnoif0 is configured twice/,
  );
});
