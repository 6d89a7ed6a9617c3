import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../../tests/lib/netns.ts";
import { TextLineStream } from "../../tests/lib/lines.ts";

const PEER = new URL("../../tests/dhcp/raw_peer.ts", import.meta.url).pathname;

Deno.test({
  name: "raw sockets exchange frames between two namespaces, filtered by UDP port",
  ignore: labSkipReason() !== null,
  async fn() {
    await using lab = await createLab("raw", [{ name: "a" }, { name: "b" }]);
    const rx = lab.spawn("a", [Deno.execPath(), "run", "-A", PEER, "recv", "eth0", "9999", "2"], {
      stdout: "piped",
    });
    const lines = rx.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream());
    const reader = lines.getReader();
    assert.equal((await reader.read()).value, "ready");
    // A frame to another port must not pass the BPF filter; the two to 9999 must.
    for (
      const [port, text] of [["9998", "wrong-port"], ["9999", "hello"], ["9999", "world"]] as const
    ) {
      const r = await lab.exec("b", [
        Deno.execPath(),
        "run",
        "-A",
        PEER,
        "send",
        "eth0",
        port,
        text,
      ]);
      assert.equal(r.stdout.trim(), "sent", r.stderr);
    }
    const got = [];
    for (let i = 0; i < 2; i++) got.push(JSON.parse((await reader.read()).value!));
    reader.releaseLock();
    assert.deepEqual(got.map((g) => g.payload), ["hello", "world"]);
    const macB = (await lab.exec("b", ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
    assert.equal(got[0].srcMac, macB);
    assert.equal(got[0].dstPort, 9999);
    await rx.status;
  },
});
