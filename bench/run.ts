/**
 * `deno task bench [name...] [--flag value...]`: runs every benchmark script
 * in bench/ (or the named ones) one after another, each against the
 * established server it is compared with, prints their tables, and writes
 * what they printed into docs/BENCHMARKS.md (the machine, the date, each
 * command line and its output). A run of some benchmarks replaces only their
 * sections (one per benchmark and flag set); the others stay as they were. Flags (`--nodes 1000`) are passed
 * to every script run; `--no-write` leaves docs/BENCHMARKS.md alone.
 * Benchmarks need root for network namespaces; each builds and removes its own.
 */
import { machineFacts, renderReport, type Section, splitSections } from "./_report.ts";

const dir = new URL(".", import.meta.url).pathname;
const docPath = new URL("../docs/BENCHMARKS.md", import.meta.url).pathname;
const available = [...Deno.readDirSync(dir)]
  .map((e) => e.name)
  .filter((n) =>
    n.endsWith(".ts") && n !== "run.ts" && !n.endsWith("_test.ts") && !n.startsWith("_")
  )
  .map((n) => n.replace(/\.ts$/, ""))
  .sort();

// A word naming a script selects it; anything else is a flag or a flag's value.
const wanted: string[] = [];
const flags: string[] = [];
let write = true;
for (const a of Deno.args) {
  if (a === "--no-write") write = false;
  else if (!a.startsWith("-") && available.includes(a) && flags.length === 0) wanted.push(a);
  else flags.push(a);
}
if (flags.length > 0 && !flags[0]!.startsWith("-")) {
  console.error(`no benchmark named "${flags[0]}" (have: ${available.join(", ")})`);
  Deno.exit(2);
}
const scripts = wanted.length > 0 ? wanted : available;

/** Runs one script, echoing and keeping its stdout. */
async function runScript(name: string): Promise<{ code: number; out: string; seconds: number }> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", `${dir}${name}.ts`, ...flags],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const chunks: Uint8Array[] = [];
  for await (const c of child.stdout) {
    chunks.push(c);
    await Deno.stdout.write(c);
  }
  const { code } = await child.status;
  const out = new TextDecoder().decode(
    chunks.reduce((a, b) => {
      const j = new Uint8Array(a.length + b.length);
      j.set(a);
      j.set(b, a.length);
      return j;
    }, new Uint8Array()),
  );
  return { code, out, seconds: (performance.now() - started) / 1000 };
}

let failed = 0;
const sections: Section[] = [];
for (const name of scripts) {
  console.log(`\n\x1b[1m### bench/${name}\x1b[0m`);
  const r = await runScript(name);
  const s = r.seconds.toFixed(1);
  console.log(`### bench/${name}: ${r.code === 0 ? "done" : `FAILED (exit ${r.code})`} in ${s}s`);
  if (r.code !== 0) failed++;
  sections.push({
    // one section per benchmark and flag set: `storm --nodes 1000` keeps `storm`
    name: [name, ...flags.map((f) => f.replace(/^-+/, ""))].join("-").replace(/[^a-z0-9_-]/gi, "_"),
    command: ["deno task bench", name, ...flags].join(" "),
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    seconds: r.seconds,
    ok: r.code === 0,
    output: r.out,
  });
}
if (scripts.length === 0) console.log("no benchmarks matched");

if (write && sections.length > 0) {
  let old = "";
  try {
    old = await Deno.readTextFile(docPath);
  } catch { /* first run */ }
  const kept = splitSections(old).filter((s) => !sections.some((n) => n.name === s.name));
  const all = [...kept, ...sections].sort((a, b) => a.name.localeCompare(b.name));
  await Deno.mkdir(new URL("../docs", import.meta.url), { recursive: true });
  await Deno.writeTextFile(docPath, renderReport(await machineFacts(), all));
  console.log(`\nwrote ${docPath}`);
}
Deno.exit(failed === 0 ? 0 : 1);
