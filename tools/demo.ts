/**
 * The demo: compiles the bundled host0-example into a temporary state
 * directory with `mesh system configure`, then lists every overlay it built
 * and what is inside the first named machine's overlay.
 *
 *   deno task demo [--keep]
 */
import { main } from "../src/cli/main.ts";

const root = new URL("../host0-example", import.meta.url).pathname;
const state = await Deno.makeTempDir({ prefix: "mesh-demo-" });
const keep = Deno.args.includes("--keep");

function show(title: string): void {
  console.log(`\n\x1b[1m== ${title}\x1b[0m`);
}

try {
  show(`mesh config check  (host0: ${root})`);
  let code = await main(["--host0", root, "config", "check"]);
  if (code !== 0) Deno.exit(code);

  show(`mesh system configure  (state: ${state})`);
  code = await main(["--host0", root, "--state", state, "system", "configure"]);
  if (code !== 0) Deno.exit(code);

  show("overlays built");
  const dir = `${state}/apkovl`;
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".tar.gz"))
    .sort();
  for (const n of names) console.log(`  ${dir}/${n}  ${Deno.statSync(`${dir}/${n}`).size} bytes`);

  const named = names.find((n) => n !== "default.tar.gz");
  if (named) {
    show(`contents of ${named} (tar -tvzf)`);
    const out = await new Deno.Command("tar", {
      args: ["-tvzf", `${dir}/${named}`],
      stdout: "inherit",
    }).output();
    if (!out.success) Deno.exit(1);
  }

  show("second run changes nothing");
  const before = names.map((n) => Deno.readFileSync(`${dir}/${n}`));
  code = await main(["--host0", root, "--state", state, "--json", "system", "configure"]).then((
    c,
  ) => c);
  const same = names.every((n, i) => {
    const after = Deno.readFileSync(`${dir}/${n}`);
    return after.length === before[i]!.length && after.every((b, j) => b === before[i]![j]);
  });
  console.log(same ? "  identical bytes: yes" : "  identical bytes: NO");
  if (!same) Deno.exit(1);
} finally {
  if (keep) console.log(`\nstate kept in ${state}`);
  else await Deno.remove(state, { recursive: true });
}
