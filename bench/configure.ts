/**
 * Benchmark: `mesh system configure` on a generated /host0 with 1,000
 * machines (each in two of ten groups, with its own hostname, interfaces, an
 * append, a directory and a symlink). Times loadHost0 and compileOverlays and
 * prints a table. Target: under 5 s in total on a 2-core machine.
 *
 *   deno run -A bench/configure.ts [machines]
 */
import { loadHost0 } from "../src/config/mod.ts";
import { compileOverlays } from "../src/apkovl/mod.ts";

const MACHINES = Number(Deno.args[0] ?? 1000);
const GROUPS = 10;
const TARGET_MS = 5000;

async function generate(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const w = (rel: string, text: string) => Deno.writeTextFile(`${dir}/${rel}`, text);
  await w("mesh.yaml", "default_subnet_size: 24\n");
  await w("packages", "alpine-base\nopenssh\n");
  for (let g = 0; g < GROUPS; g++) {
    await Deno.mkdir(`${dir}/groups/g${g}`, { recursive: true });
    await w(`groups/g${g}/conf`, `group ${g}\n`.repeat(20));
    await w(
      `groups/g${g}/manifest`,
      `O MODE=root:root:0644 SRC=/host0/groups/g${g}/conf TGT=/etc/g${g}.conf\n` +
        `L SRC=/etc/init.d/svc${g} TGT=/etc/runlevels/default/svc${g}\n` +
        `A MODE=root:root:0644 SRC=/host0/groups/g${g}/conf TGT=/etc/motd\n`,
    );
    await w(`groups/g${g}/packages`, `pkg-${g}\nopenssh\n`);
  }
  const machine = async (i: number) => {
    const folder = i === 0 ? "default" : `node-${i}`;
    const m = `machines/${folder}`;
    await Deno.mkdir(`${dir}/${m}`, { recursive: true });
    await w(`${m}/UUID`, i === 0 ? "default\n" : `${(0x10000000 + i).toString(16)}\n`);
    await w(`${m}/groups`, `g${i % GROUPS}\ng${(i + 3) % GROUPS}\n`);
    await w(`${m}/hostname`, `${folder}\n`);
    await w(
      `${m}/interfaces`,
      "auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet dhcp\n",
    );
    await w(`${m}/packages`, `tool-${i % 7}\n`);
    await w(
      `${m}/manifest`,
      `O MODE=root:root:0644 SRC=/host0/${m}/hostname TGT=/etc/hostname\n` +
        `O MODE=root:root:0644 SRC=/host0/${m}/interfaces TGT=/etc/network/interfaces\n` +
        `A MODE=root:root:0644 SRC=/host0/${m}/hostname TGT=/etc/motd\n` +
        `D MODE=root:kvm:0770 TGT=/var/lib/mesh/${folder}\n` +
        `L SRC=/usr/share/zoneinfo/UTC TGT=/etc/localtime\n`,
    );
  };
  for (let i = 0; i < MACHINES; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, MACHINES - i) }, (_, k) => machine(i + k)));
  }
}

const tmp = await Deno.makeTempDir({ prefix: "mesh-bench-configure-" });
try {
  const host0Dir = `${tmp}/host0`;
  await generate(host0Dir);
  const t0 = performance.now();
  const host0 = await loadHost0(host0Dir);
  const t1 = performance.now();
  const result = await compileOverlays(host0, { outDir: `${tmp}/state/apkovl` });
  const t2 = performance.now();
  const bytes = result.rows.reduce((n, r) => n + r.bytes, 0);
  const total = t2 - t1 + (t1 - t0);
  const rows: [string, string][] = [
    ["machines compiled", String(result.rows.length)],
    ["loadHost0", `${(t1 - t0).toFixed(0)} ms`],
    ["compileOverlays", `${(t2 - t1).toFixed(0)} ms`],
    ["total", `${total.toFixed(0)} ms`],
    ["per machine", `${(total / result.rows.length).toFixed(2)} ms`],
    ["overlay bytes (sum)", String(bytes)],
    ["target", `< ${TARGET_MS} ms (ratio ${(total / TARGET_MS).toFixed(2)})`],
  ];
  console.log("configure benchmark (no established counterpart: compile-apkovl is unpublished)");
  for (const [k, v] of rows) console.log(`  ${k.padEnd(22)} ${v}`);
  if (total > TARGET_MS) {
    console.log("  RESULT: slower than target");
    Deno.exitCode = 1;
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
