import assert from "node:assert/strict";
import { createLab, labSkipReason, run } from "./netns.ts";

async function namespaces(): Promise<string[]> {
  return (await run(["ip", "netns", "list"])).stdout.split("\n").map((l) => l.split(" ")[0]!);
}

Deno.test({
  name: "a lab left by a killed process is removed by the next lab, with what ran in it",
  ignore: labSkipReason(["sleep"]) !== null,
  async fn() {
    // Above pid_max (32768 by default, 4194304 at most): no process can have it.
    const stale = "swp4194305x0-a";
    // pid 1 always runs: its lab (were there one) is not ours to remove.
    const live = "swp1x0-a";
    await run(["ip", "netns", "add", stale]);
    await run(["ip", "netns", "add", live]);
    const sleeper = new Deno.Command("ip", {
      args: ["netns", "exec", stale, "sleep", "60"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await using _lab = await createLab("swp", [{ name: "a" }]);
      const left = await namespaces();
      assert.ok(!left.includes(stale), "the dead process's lab is still there");
      assert.ok(left.includes(live), "a running process's lab was removed");
      assert.notEqual((await sleeper.status).code, 0, "what ran in the stale lab was killed");
    } finally {
      try {
        sleeper.kill("SIGKILL");
      } catch { /* killed by the sweep */ }
      await sleeper.status;
      await run(["ip", "netns", "del", stale]);
      await run(["ip", "netns", "del", live]);
    }
  },
});
