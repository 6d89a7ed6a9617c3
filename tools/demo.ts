/**
 * The demo, on the bundled host0-example:
 *
 * 1. `mesh config check` and `mesh system configure` into a temporary state
 *    directory; the overlays it built and what one of them holds; a second
 *    run changes no byte.
 * 2. Where QEMU and root are available: `mesh serve` on a private network
 *    (namespaces and a bridge that only this demo uses), a VM that PXE-boots
 *    through it (DHCP → iPXE → boot script → kernel → overlay), and then
 *    `mesh node list` / `mesh node info` showing every step of that boot.
 *
 *   deno task demo [--keep] [--no-vm]
 */
import { nodeIdFor } from "../src/boot/mod.ts";
import { main } from "../src/cli/main.ts";
import {
  addLabMachine,
  installLabBootFiles,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../tests/lib/mesh_daemon.ts";
import { createLab } from "../tests/lib/netns.ts";
import {
  addTap,
  bootVm,
  prepareBootAssets,
  qemuSkipReason,
} from "../tests/lib/qemu.ts";

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

  const why = Deno.args.includes("--no-vm") ? "--no-vm given" : qemuSkipReason();
  if (why !== null) {
    show("network boot part skipped");
    console.log(`  ${why}`);
  } else {
    await networkBoot(state);
  }
} finally {
  if (keep) console.log(`\nstate kept in ${state}`);
  else await Deno.remove(state, { recursive: true });
}

/** mesh serve on a lab switch, one VM PXE-booting through it, then the CLI's view. */
async function networkBoot(tmp: string): Promise<void> {
  const srv = "10.97.0.1";
  const vm = { mac: "52:54:00:97:00:01", uuid: "6d657368-0000-4000-8000-525400970001" };
  const id = nodeIdFor(vm).id;
  const host0 = `${tmp}/lab-host0`;
  const labState = `${tmp}/lab-state`;
  show(`mesh serve on a private lab network (${srv}/24), one BIOS VM PXE-booting`);
  await writeLabHost0(host0, { state: labState, srv, pool: ["10.97.0.100", "10.97.0.199"] });
  await addLabMachine(host0, "demo-node", id, "hello-from-demo-node");
  console.log(`  host0 ${host0}: example + machines/demo-node (UUID ${id}) + eth0 in server mode`);
  console.log("  preparing a kernel and an Alpine-like initramfs (cached after the first run) ...");
  await installLabBootFiles(labState, await prepareBootAssets());
  await using lab = await createLab("demo", [{ name: "srv", address: `${srv}/24` }]);
  // mesh alone on the segment: it sends the IPv6 router advertisements iPXE waits for itself.
  const daemon = startDaemon(lab, "srv", host0);
  try {
    const ready = await daemon.ready;
    console.log(`  mesh serving: ${JSON.stringify(ready.properties)}`);
    const tap = await addTap(lab, "tdemo");
    const r = await bootVm(lab, { firmware: "bios", tap, ...vm, timeoutMs: 180_000 });
    for (
      const line of r.serial.filter((l) =>
        /Configuring|Filename|http:\/\/|\[init\]|MESH-NODE/.test(l)
      )
    ) {
      console.log(`  vm | ${line.slice(0, 140)}`);
    }
    if (!r.ok) throw new Error("the VM did not finish its boot");
    console.log(
      `  booted in ${
        (r.ms / 1000).toFixed(1)
      } s (QEMU start → overlay unpacked, software CPU emulation)`,
    );
    show("mesh node list");
    await main(["--host0", host0, "node", "list"]);
    show(`mesh node info -n ${id}`);
    await main(["--host0", host0, "node", "info", "-n", id]);
  } finally {
    await stopDaemon(daemon);
  }
}
