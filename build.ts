/**
 * Builds mesh for shipping.
 *
 *   deno task build            one-file bundle (dist/mesh.js), then the single binary (dist/mesh)
 *   deno task build --bundle   the one-file bundle only
 *
 * The bundle runs anywhere with `deno run -A dist/mesh.js`. The binary needs
 * `deno compile`, which embeds the `denort` runtime: Deno downloads it, or
 * uses the file named by DENORT_BIN. When neither works this script stops
 * with one line saying so and exit code 3, after the bundle has been written.
 */
const DIST = new URL("./dist/", import.meta.url).pathname;
const ENTRY = new URL("./main.ts", import.meta.url).pathname;

/** Permissions baked into the binary: the daemon needs sockets, FFI (raw frames), files. */
const COMPILE_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
  "--allow-env",
  "--allow-run",
  "--allow-sys",
];

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .spawn();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** The first line that looks like an error, without ANSI colours. */
function firstError(output: string): string {
  // deno-lint-ignore no-control-regex
  const lines = output.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter(
    Boolean,
  );
  return lines.find((l) => /error/i.test(l)) ?? lines[0] ?? "no output";
}

async function bundle(): Promise<void> {
  await Deno.mkdir(DIST, { recursive: true });
  const r = await deno(["bundle", "--platform", "deno", "-o", `${DIST}mesh.js`, ENTRY]);
  if (r.code !== 0) {
    console.error(r.output.trim());
    console.error("build: deno bundle failed");
    Deno.exit(1);
  }
  const size = (await Deno.stat(`${DIST}mesh.js`)).size;
  console.log(
    `build: wrote ${DIST}mesh.js (${
      (size / 1024).toFixed(0)
    } KiB); run it with: deno run -A ${DIST}mesh.js --help`,
  );
}

async function compile(): Promise<void> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    try {
      await Deno.stat(denort);
    } catch {
      console.error(`build: DENORT_BIN=${denort} does not exist; cannot build the single binary`);
      Deno.exit(3);
    }
  }
  // The QEMU kit's guest /init and udhcpc script (`mesh lab --qemu` builds its initramfs from them).
  const labAssets = new URL("./src/lab/assets/", import.meta.url).pathname;
  const r = await deno([
    "compile",
    ...COMPILE_PERMISSIONS,
    "--include",
    labAssets,
    "-o",
    `${DIST}mesh`,
    ENTRY,
  ]);
  if (r.code === 0) {
    const size = (await Deno.stat(`${DIST}mesh`)).size;
    console.log(`build: wrote ${DIST}mesh (${(size / 1048576).toFixed(1)} MiB single binary)`);
    return;
  }
  const why = /denort|download|dl\.deno|network|dns|connect/i.test(r.output)
    ? "deno compile could not obtain the denort runtime (no download possible here); set DENORT_BIN to a denort binary of the same Deno version"
    : `deno compile failed: ${firstError(r.output)} (MESH_BUILD_VERBOSE=1 shows all)`;
  if (Deno.env.get("MESH_BUILD_VERBOSE")) console.error(r.output.trim());
  console.error(`build: ${why}`);
  Deno.exit(3);
}

if (import.meta.main) {
  await bundle();
  if (!Deno.args.includes("--bundle")) await compile();
}
