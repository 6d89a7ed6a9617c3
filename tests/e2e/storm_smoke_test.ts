/**
 * The boot-storm benchmark still runs end to end (bench/storm.ts is not part
 * of the suite otherwise): a handful of nodes, small files, mesh only. Its
 * figures are not judged here; that every node came online is.
 */
import assert from "node:assert/strict";
import { labSkipReason } from "../lib/netns.ts";

const STORM = new URL("../../bench/storm.ts", import.meta.url).pathname;

Deno.test({
  name: "bench/storm.ts: 6 nodes walk the whole PXE path against mesh and all come online",
  ignore: labSkipReason(["dnsmasq", "nginx", "tc", "curl"]) !== null,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "-A", "--cached-only", STORM],
        ...["--nodes", "6", "--kernel-mib", "1", "--initrd-mib", "1", "--servers", "mesh"],
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
    assert.match(text, /nodes online \/ failed\s+6\/0/);
  },
});
