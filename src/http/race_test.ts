/**
 * Symlink swap race over HTTP: while worker threads keep swapping served
 * files for symlinks to a file outside the root, 10,000 requests through the
 * app (sendFile, small-file cache and streamed bodies), and 10,000 more
 * through the sendfile engine on 127.0.0.1, get the file or a refusal, never
 * a byte of the outside file.
 */
import assert from "node:assert/strict";
import {
  filled,
  leaksSecret,
  runPool,
  SECRET_MARK,
  startSwapper,
  type Swapper,
} from "../testing/swap_race.ts";
import { listenHttp } from "../net/mod.ts";
import { type Fixture, makeFixture } from "./_app_fixture.ts";
import { SMALL_FILE_MAX } from "./static_file.ts";

const REQUESTS = 10_000;

/** A small file (memory cache) and a big one (streamed; sendfile) in /boot, each swapped. */
async function raceFiles(f: Fixture) {
  const boot = `${f.dir}/boot`;
  const files = {
    small: filled("A-small-inside-the-root\n", 1000),
    big: filled("A-big-inside-the-root\n", SMALL_FILE_MAX + 4096),
  };
  const secret = `${f.dir}/outside/race-secret`;
  await Deno.writeFile(secret, filled(`${SECRET_MARK}\n`, files.big.length));
  const swappers: Swapper[] = [];
  for (const [name, data] of Object.entries(files)) {
    await Deno.writeFile(`${boot}/race-${name}.keep`, data);
    await Deno.link(`${boot}/race-${name}.keep`, `${boot}/race-${name}`);
    swappers.push(startSwapper(`${boot}/race-${name}`, `${boot}/race-${name}.keep`, secret));
  }
  for (const s of swappers) await s.running();
  return { files, swappers };
}

interface Tally {
  served: number;
  refused: number;
  leaks: number;
  other: number;
}

function judge(t: Tally, status: number, body: Uint8Array, want: Uint8Array): void {
  if (leaksSecret(body)) t.leaks++;
  else if (status === 200 && body.length === want.length) t.served++;
  else if (status === 404 || status === 403) t.refused++;
  else t.other++;
}

async function stopAll(swappers: Swapper[]): Promise<number> {
  let swaps = 0;
  for (const s of swappers) swaps += await s.stop();
  return swaps;
}

Deno.test("http race (app): files swapped for symlinks never serve outside bytes", async () => {
  await using f = await makeFixture();
  const { files, swappers } = await raceFiles(f);
  const t: Tally = { served: 0, refused: 0, leaks: 0, other: 0 };
  let swaps = 0;
  try {
    await runPool(REQUESTS, 32, async (i) => {
      const name = i % 2 === 0 ? "small" : "big";
      const res = await f.req(`/boot/race-${name}`);
      judge(t, res.status, new Uint8Array(await res.arrayBuffer()), files[name]);
    });
  } finally {
    swaps = await stopAll(swappers);
    console.log(`http race (app): ${JSON.stringify(t)}, ${swaps} swaps`);
  }
  assert.equal(t.leaks, 0);
  assert.equal(t.other, 0);
  assert.ok(t.served > 0, "the files themselves were never served");
  assert.ok(swaps > 0, "the swappers never ran");
});

Deno.test("http race (sendfile engine on 127.0.0.1): swapped files never serve outside bytes", async () => {
  await using f = await makeFixture();
  const { files, swappers } = await raceFiles(f);
  const ac = new AbortController();
  const srv = listenHttp((req, info) => f.app.fetch(req, info), {
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
  });
  const t: Tally = { served: 0, refused: 0, leaks: 0, other: 0 };
  let swaps = 0;
  try {
    await runPool(REQUESTS, 16, async (i) => {
      const name = i % 2 === 0 ? "small" : "big";
      const res = await fetch(`http://127.0.0.1:${srv.addr.port}/boot/race-${name}`, {
        signal: AbortSignal.timeout(10_000),
      });
      judge(t, res.status, new Uint8Array(await res.arrayBuffer()), files[name]);
    });
  } finally {
    swaps = await stopAll(swappers);
    ac.abort();
    await srv.finished;
    console.log(
      `http race (sendfile): ${JSON.stringify(t)}, ${swaps} swaps, ` +
        `${srv.stats.sendfileBytes} bytes by sendfile`,
    );
  }
  assert.equal(t.leaks, 0);
  assert.equal(t.other, 0);
  assert.ok(t.served > 0, "the files themselves were never served");
  assert.ok(swaps > 0, "the swappers never ran");
  assert.ok(srv.stats.sendfileBytes > 0, "no body went out by sendfile");
});
