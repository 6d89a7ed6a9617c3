import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../lib/netns.ts";

const PEER = new URL("./probe_peer.ts", import.meta.url).pathname;

Deno.test({
  name: "conflict probe finds an address a neighbour holds and not a free one",
  ignore: labSkipReason() !== null,
  async fn() {
    await using lab = await createLab("arp", [{ name: "srv", address: "10.82.0.1/24" }, {
      name: "squatter",
      address: "10.82.0.50/24",
    }]);
    const r = await lab.exec("srv", [
      Deno.execPath(),
      "run",
      "-A",
      PEER,
      "10.82.0.50",
      "10.82.0.51",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { ip: "10.82.0.50", inUse: true });
    assert.deepEqual(lines[1], { ip: "10.82.0.51", inUse: false });
    assert.deepEqual(lines[2], { probes: 2, conflicts: 1 });
  },
});
