/**
 * Symlink swap race over TFTP on 127.0.0.1: while a worker thread keeps
 * swapping the served file for a symlink to a file outside the root, 10,000
 * requests get either the file or a refusal, never a byte of the outside file.
 */
import assert from "node:assert/strict";
import {
  createRaceTree,
  filled,
  leaksSecret,
  runPool,
  startSwapper,
} from "../testing/swap_race.ts";
import { tftpGet } from "./_test_client.ts";
import { startTftpServer } from "./server.ts";

const REQUESTS = 10_000;
const CONCURRENCY = 32;

for (
  const [label, memoryCacheMaxBytes] of [
    ["memory cache", undefined],
    ["streamed from disk", 0],
  ] as const
) {
  Deno.test(`tftp race (${label}): a file swapped for a symlink never serves outside bytes`, async () => {
    const inside = filled("A-inside-the-root\n", 1400);
    await using tree = await createRaceTree({ f: inside }, 1400);
    const server = await startTftpServer({
      hostname: "127.0.0.1",
      port: 0,
      root: tree.root,
      perClient: CONCURRENCY * 2,
      timeoutMs: 200,
      ...(memoryCacheMaxBytes !== undefined ? { memoryCacheMaxBytes } : {}),
    });
    const swapper = startSwapper(`${tree.root}/f`, `${tree.root}/f.keep`, tree.outside);
    let served = 0, refused = 0, leaks = 0, other = 0;
    try {
      await swapper.running();
      await runPool(REQUESTS, CONCURRENCY, async () => {
        const r = await tftpGet(server.addr.port, "f", {
          options: { blksize: "1468" },
          timeoutMs: 500,
        });
        if (leaksSecret(r.data)) leaks++;
        else if (r.ok && r.data.length === inside.length) served++;
        else if (!r.ok && r.error !== undefined && r.error.code >= 0) refused++;
        else {
          other++;
          if (other <= 3) console.log("other:", r.ok, r.data.length, r.error);
        }
      });
    } finally {
      const swaps = await swapper.stop();
      await server.close();
      console.log(
        `tftp race (${label}): ${served} served, ${refused} refused, ${other} other, ` +
          `${leaks} leaks, ${swaps} swaps`,
      );
    }
    assert.equal(leaks, 0);
    assert.equal(served + refused + other, REQUESTS);
    assert.ok(served > 0, "the file itself was never served");
    assert.ok(swapper.swaps() > 0, "the swapper never ran");
  });
}
