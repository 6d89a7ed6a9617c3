/**
 * Measures (no timing asserts): `mesh system download` of a 500-package
 * closure from a 1500-package local test repository over HTTP, as a real
 * process under /usr/bin/time for its peak RSS; then a second run with
 * nothing new. Printed for the closing note.
 */
import assert from "node:assert/strict";
import { buildRepo, type PkgSpec } from "./_repo_fixture.ts";
import { serveRepo } from "./_repo_server.ts";
import { host0, LIBC, SPECS, testKey } from "./_mirror_fixture.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const CHAIN = 495; // + alpine-base, alpine-baselayout, busybox, openrc, musl = 500

/** A chain of libraries linked by so: names (each needs the one before, some two back). */
function specs(): PkgSpec[] {
  const out: PkgSpec[] = SPECS.filter((s) =>
    ["musl", "busybox", "alpine-baselayout", "openrc", "alpine-base"].includes(s.name)
  );
  for (let i = 0; i < CHAIN; i++) {
    const deps = [LIBC];
    if (i > 0) deps.push(`so:libpkg${i - 1}.so.1`);
    if (i > 1 && i % 3 === 0) deps.push(`pkg${i - 2}>=1.0`);
    out.push({
      name: `pkg${i}`,
      version: `1.${i % 7}.${i}-r0`,
      depends: deps,
      provides: [`so:libpkg${i}.so.1=1.${i}`, `cmd:pkg${i}`],
      payload: 16 << 10,
      ...(i % 5 === 0 ? { repo: "community" as const } : {}),
    });
  }
  // Packages nobody wants, so the index is larger than the closure.
  for (let i = 0; i < 1000; i++) {
    out.push({ name: `other${i}`, version: "1.0-r0", depends: [LIBC], payload: 32 });
  }
  return out;
}

async function timedDownload(h: string) {
  const t0 = performance.now();
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-v", Deno.execPath(), "run", "-A", MAIN, "--host0", h, "--json", "system", "download"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  const peakKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(err)?.[1]);
  return { ms, peakMiB: peakKiB / 1024, report: JSON.parse(new TextDecoder().decode(out.stdout)) };
}

Deno.test({
  name: "scale: a 500-package closure, then a second run (measured, printed)",
  ignore: !(await Deno.stat("/usr/bin/time").then(() => true, () => false)),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "mesh-scale-" });
    const server = { close: async () => {} };
    try {
      const key = await testKey();
      let t0 = performance.now();
      const repo = await buildRepo(`${dir}/upstream`, specs(), {}, key);
      const buildMs = performance.now() - t0;
      const s = serveRepo(repo.root);
      server.close = s.close;
      const h = await host0(dir, s.url, key, { top: `pkg${CHAIN - 1}\n`, group: "", machine: "" });
      const first = await timedDownload(h);
      assert.equal(first.report.packages, 500);
      const second = await timedDownload(h);
      assert.equal(second.report.downloaded.files, 0);
      t0 = performance.now();
      const baseline = await new Deno.Command("/usr/bin/time", {
        args: ["-v", Deno.execPath(), "run", "-A", MAIN, "--version"],
        stdout: "null",
        stderr: "piped",
      }).output();
      const idleKiB = Number(
        /Maximum resident set size \(kbytes\): (\d+)/.exec(
          new TextDecoder().decode(baseline.stderr),
        )?.[1],
      );
      const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
      console.log(
        [
          `test repository: 1500 packages (500 in the closure), built in ${
            (buildMs / 1000).toFixed(1)
          } s`,
          `first run:  ${
            (first.ms / 1000).toFixed(2)
          } s wall (mesh's own report ${first.report.ms} ms), ` +
          `${first.report.downloaded.files} files, ${mib(first.report.downloaded.bytes)}, ` +
          `peak RSS ${first.peakMiB.toFixed(0)} MiB (mesh --version: ${
            (idleKiB / 1024).toFixed(0)
          } MiB)`,
          `second run: ${(second.ms / 1000).toFixed(2)} s wall (report ${second.report.ms} ms), ` +
          `${second.report.downloaded.files} files, published=${second.report.published}, ` +
          `peak RSS ${second.peakMiB.toFixed(0)} MiB`,
        ].join("\n"),
      );
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
