/**
 * `deno task bench [name...]`: runs every benchmark script in bench/ (or the
 * named ones) one after another, each against the established server it is
 * compared with, and prints their tables. Benchmarks need root for network
 * namespaces; each script builds and removes its own.
 */
const dir = new URL(".", import.meta.url).pathname;
const wanted = Deno.args.filter((a) => !a.startsWith("-"));
const scripts = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) =>
    n.endsWith(".ts") && n !== "run.ts" && !n.endsWith("_test.ts") && !n.startsWith("_")
  )
  .filter((n) => wanted.length === 0 || wanted.includes(n.replace(/\.ts$/, "")))
  .sort();

let failed = 0;
for (const name of scripts) {
  console.log(`\n\x1b[1m### bench/${name}\x1b[0m`);
  const started = performance.now();
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}${name}`],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  const s = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`### bench/${name}: ${code === 0 ? "done" : `FAILED (exit ${code})`} in ${s}s`);
  if (code !== 0) failed++;
}
if (scripts.length === 0) console.log("no benchmarks matched");
Deno.exit(failed === 0 ? 0 : 1);
