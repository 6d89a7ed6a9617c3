/**
 * The status page with 1,000 nodes in the store: how long it takes to
 * render and to load, and how many bytes it sends, printed for the closing
 * note and the README (no timing asserts: machines differ). Measured three
 * ways: the app alone, over mesh's HTTP engine (plain and gzip), and in
 * chromium to the load event when Debian's chromium is installed.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { serveHttp } from "../../src/http/mod.ts";
import { makeStatusFixture, seedNodes } from "../../src/http/_status_fixture.ts";

const NODES = 1000;
const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ms = (x: number) => `${x.toFixed(1)} ms`;
const kib = (x: number) => `${(x / 1024).toFixed(0)} KiB`;

Deno.test({
  name: `status page with ${NODES} nodes: load time and transfer size`,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const f = makeStatusFixture();
    const stop = new AbortController();
    const seed0 = performance.now();
    seedNodes(f.registry, NODES, Date.now() - 3600_000);
    const seeded = performance.now() - seed0;
    const http = serveHttp(f.app, { hostname: "127.0.0.1", port: 0, signal: stop.signal });
    const url = `http://127.0.0.1:${http.addr.port}/`;
    const lines: string[] = [`seeded ${NODES} nodes in ${ms(seeded)}`];
    try {
      // The app alone: registry list, view, render.
      const inApp: number[] = [];
      let html = "";
      for (let i = 0; i < 7; i++) {
        const t = performance.now();
        html = await (await f.req("/")).text();
        inApp.push(performance.now() - t);
      }
      assert.equal((html.match(/<tr id="n-/g) ?? []).length, NODES);
      lines.push(`render in the app: median ${ms(median(inApp))} (of 7)`);

      // Over HTTP (sendfile engine), plain and gzip.
      for (const enc of ["identity", "gzip"]) {
        const times: number[] = [];
        let wire = 0;
        for (let i = 0; i < 7; i++) {
          const t = performance.now();
          const r = await fetch(url, { headers: { "accept-encoding": enc } });
          wire = Number(r.headers.get("content-length"));
          await r.arrayBuffer();
          times.push(performance.now() - t);
        }
        lines.push(`over HTTP, ${enc}: ${kib(wire)} on the wire, median ${ms(median(times))}`);
      }
      // /metrics stays cheap with that many nodes.
      const t = performance.now();
      await (await f.req("/metrics")).text();
      lines.push(`/metrics with ${NODES} nodes: ${ms(performance.now() - t)}`);

      if (CHROMIUM === undefined) {
        lines.push("chromium not installed: browser load time not measured");
      } else {
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
        try {
          const page = await browser.newPage();
          const loads: number[] = [];
          let transfer = 0;
          for (let i = 0; i < 5; i++) {
            const t0 = performance.now();
            const res = await page.goto(url, { waitUntil: "load" });
            loads.push(performance.now() - t0);
            transfer = (await res!.request().sizes()).responseBodySize;
          }
          const timing = await page.evaluate(() => {
            // (runs in the browser: its navigation entry, typed here by the fields read)
            const n = performance.getEntriesByType("navigation")[0] as unknown as {
              domContentLoadedEventEnd: number;
              loadEventEnd: number;
              transferSize: number;
            };
            return {
              dcl: n.domContentLoadedEventEnd,
              load: n.loadEventEnd,
              transfer: n.transferSize,
            };
          });
          assert.equal(await page.locator("#nodes tbody tr").count(), NODES);
          lines.push(
            `chromium: load median ${ms(median(loads))} (of 5); last one DOMContentLoaded ${
              ms(timing.dcl)
            }, load ${ms(timing.load)}; ${kib(transfer)} body transferred (gzip)`,
          );
        } finally {
          await browser.close();
        }
      }
    } finally {
      console.log(`status page, ${NODES} nodes:\n  ${lines.join("\n  ")}`);
      stop.abort();
      await http.finished;
      f.close();
    }
  },
});
