/**
 * The demo (the README's main job), on the bundled host0-example:
 *
 * 1. `mesh config check` and `mesh system configure` into a temporary state
 *    directory; the overlays it built and what one of them holds; a second
 *    run changes no byte.
 * 2. As root: `mesh lab`, the adaptive network in one command: a central
 *    node with ports on two switches, dnsmasq already serving one, mesh serve
 *    in `auto` finding proxyDHCP there and full DHCP on the other, and six
 *    lightweight nodes booting through it to online.
 * 3. Where QEMU is available too: `mesh lab --qemu --nodes 2`, a SeaBIOS and
 *    an OVMF VM, one on each switch, to their overlays.
 *
 *   deno task demo [--keep] [--no-vm] [--overlays-only]
 */
import { main } from "../src/cli/main.ts";
import { labUnavailable, qemuSkipReason } from "../src/lab/mod.ts";

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

  if (Deno.args.includes("--overlays-only")) {
    show("network part skipped (--overlays-only)");
  } else if (labUnavailable() !== null) {
    show("network part skipped");
    console.log(`  ${labUnavailable()}`);
  } else {
    show("mesh lab  (the adaptive network, lightweight nodes)");
    code = await main(["lab"]);
    if (code !== 0) Deno.exit(code);
    const why = Deno.args.includes("--no-vm") ? "--no-vm given" : qemuSkipReason();
    if (why !== null) {
      show("QEMU part skipped");
      console.log(`  ${why}`);
    } else {
      show("mesh lab --qemu --nodes 2  (a SeaBIOS and an OVMF VM, one on each switch)");
      code = await main(["lab", "--qemu", "--nodes", "2"]);
      if (code !== 0) Deno.exit(code);
    }
  }
} finally {
  if (keep) console.log(`\nstate kept in ${state}`);
  else await Deno.remove(state, { recursive: true });
}
