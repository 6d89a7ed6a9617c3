/**
 * The status page in a real browser: Debian's chromium driven by
 * playwright-core, against the app served by mesh's own HTTP engine with a
 * store of fixture nodes. It checks the node table, the topology picture's
 * segments and a node's timeline, sees a stage change arrive live over the
 * event stream, checks that a node named `<script>` ran nothing (the CSP
 * would report a blocked script; the page's own script ran), and takes the
 * screenshot the README shows, docs/status-page.png (written when missing or
 * with MESH_UPDATE_SCREENSHOT=1).
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { serveHttp, Stage } from "../../src/http/mod.ts";
import {
  bootNode,
  fixtureMac,
  HOSTILE,
  HOSTILE_NODE,
  makeStatusFixture,
  seedNodes,
} from "../../src/http/_status_fixture.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const SCREENSHOT = new URL("../../docs/status-page.png", import.meta.url).pathname;

Deno.test({
  name: "status page in chromium: table, topology, timeline, a live stage change, a screenshot",
  ignore: CHROMIUM === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const f = makeStatusFixture();
    const stop = new AbortController();
    const t0 = Date.now() - 5 * 60_000;
    seedNodes(f.registry, 14, t0);
    // The node that will move on while the page is open: stuck at its kernel.
    const mover = bootNode(f.registry, 40, Stage.Initrd, Date.now() - 20_000, { machine: "db-01" });
    const http = serveHttp(f.app, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
    const base = `http://127.0.0.1:${http.addr.port}`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("dialog", (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      await page.goto(`${base}/?node=${encodeURIComponent(mover)}`);

      // The node table: every node, the hostile one as plain text.
      assert.equal(await page.locator("#nodes tbody tr").count(), 15);
      const hostileId = nodeIdFor({ mac: fixtureMac(HOSTILE_NODE) }).id;
      assert.equal(await page.locator(`#n-${hostileId} .c-machine`).textContent(), HOSTILE);
      // The topology: one group per segment, with its mode; the proxy segment's DHCP server.
      const segs = page.locator("#topology g.segment");
      assert.equal(await segs.count(), 3);
      assert.deepEqual(
        await segs.evaluateAll((gs) => gs.map((g) => g.getAttribute("data-segment"))),
        [
          "lab",
          "office",
          "spare",
        ],
      );
      assert.match(
        (await page.locator('#topology g[data-segment="office"]').textContent())!,
        /proxy.*DHCP 192\.168\.1\.1/s,
      );
      // The timeline of the chosen node: done up to initrd, waiting for its overlay.
      const tl = page.locator("#timeline");
      assert.equal(await tl.getAttribute("data-key"), mover);
      assert.equal(await tl.locator('li[data-stage="kernel"]').getAttribute("class"), "done");
      assert.match((await tl.locator('li[data-stage="kernel"] .dur').textContent())!, /^2\.8 s$/);
      assert.equal(await tl.locator('li[data-stage="apkovl"]').getAttribute("class"), "current");

      // Live: the stream connects, and a stage change reaches the row and the timeline.
      await page.locator("#live.on").waitFor({ timeout: 10_000 });
      f.registry.record({ nodeId: mover, stage: Stage.Apkovl, source: "http", at: Date.now() });
      await page.locator(`#n-${mover} .c-stage`, { hasText: "apkovl" }).waitFor({
        timeout: 10_000,
      });
      await tl.locator('li[data-stage="apkovl"].done').waitFor({ timeout: 5000 });
      assert.equal(await tl.locator(".tl-stage").textContent(), "apkovl");
      // A node never seen before appears as a new row.
      const fresh = bootNode(f.registry, 77, Stage.Script, Date.now() - 1000);
      await page.locator(`#n-${fresh}`).waitFor({ timeout: 10_000 });
      assert.equal(await page.locator(`#n-${fresh} .c-stage`).textContent(), "script");

      // Sorting and filtering work as links and forms (no script needed).
      await page.goto(`${base}/?stage=online&sort=ip`);
      const stages = await page.locator("#nodes tbody tr .c-stage").allTextContents();
      assert.ok(stages.length > 0 && stages.every((s) => s === "online"), stages.join());

      assert.deepEqual(problems, []);
      await page.goto(`${base}/?node=${encodeURIComponent(mover)}`);
      await page.locator("#live.on").waitFor({ timeout: 10_000 });
      // Taken every run; it replaces the README's picture only when that is missing or
      // MESH_UPDATE_SCREENSHOT=1 asks (a test run should not leave the work tree changed).
      const shot = await page.screenshot({ fullPage: true });
      assert.ok(shot.length > 10_000, "a screenshot of some size");
      let exists = true;
      try {
        Deno.statSync(SCREENSHOT);
      } catch {
        exists = false;
      }
      if (!exists || Deno.env.get("MESH_UPDATE_SCREENSHOT") === "1") {
        await Deno.mkdir(new URL(".", `file://${SCREENSHOT}`).pathname, { recursive: true });
        await Deno.writeFile(SCREENSHOT, shot);
        console.log(`screenshot written: ${SCREENSHOT}`);
      }
    } finally {
      await browser.close();
      stop.abort();
      await http.finished;
      f.close();
    }
  },
});

if (CHROMIUM === undefined) {
  console.log("status browser test skipped: chromium is not installed (Debian package chromium)");
}
