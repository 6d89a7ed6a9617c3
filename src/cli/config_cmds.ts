/**
 * @module
 * `mesh config check` and `mesh system configure`: validate /host0 and compile
 * it into per-node APKOVLs.
 */
import { getLogger } from "@logtape/logtape";
import { compileOverlays } from "../apkovl/mod.ts";
import { loadHost0 } from "../config/mod.ts";
import { emit, type GlobalOptions, host0Dir, out } from "./context.ts";
import { formatBytes, renderTable } from "./format.ts";

/** `mesh config check`: every problem as `file:line: message`, exit 2 on any. */
export async function configCheck(opts: GlobalOptions): Promise<number> {
  const host0 = await loadHost0(host0Dir(opts));
  const active = host0.machines.filter((m) => !m.skip);
  const data = {
    ok: true,
    host0: host0.root,
    machines: active.length,
    skipped: host0.machines.length - active.length,
    groups: host0.groups.size,
    networks: host0.networks.length,
    workloads: host0.workloads.length,
    packages: host0.packages.length,
  };
  emit(
    opts,
    data,
    () =>
      `${host0.root}: ok — ${data.machines} machines (${data.skipped} skipped), ${data.groups} groups, ` +
      `${data.networks} networks, ${data.workloads} workloads, ${data.packages} mirror packages\n`,
  );
  return 0;
}

/** Progress on stderr: a redrawn line on a TTY, nothing otherwise (logs carry it). */
function progressPrinter(): {
  update(done: number, total: number, name: string): void;
  end(): void;
} {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let last = 0;
  return {
    update(done, total, name) {
      if (!tty) return;
      const now = Date.now();
      if (done !== total && now - last < 50) return;
      last = now;
      const line = `\r\x1b[2Kcompiling [${done}/${total}] ${name}`;
      Deno.stderr.writeSync(enc.encode(line));
    },
    end() {
      if (tty) Deno.stderr.writeSync(enc.encode("\r\x1b[2K"));
    },
  };
}

/** `mesh system configure`: compile every machine into `<state>/apkovl/`. */
export async function systemConfigure(opts: GlobalOptions): Promise<number> {
  const log = getLogger(["mesh", "configure"]);
  const started = performance.now();
  const host0 = await loadHost0(host0Dir(opts));
  const state = opts.state ?? host0.settings.stateDir;
  const outDir = `${state}/apkovl`;
  await Deno.mkdir(state, { recursive: true });
  const progress = progressPrinter();
  let result;
  try {
    result = await compileOverlays(host0, {
      outDir,
      onProgress: (done, total, machine) => progress.update(done, total, machine.folder),
    });
  } finally {
    progress.end();
  }
  const ms = Math.round(performance.now() - started);
  log.info("overlays published", { dir: outDir, count: result.rows.length, ms });
  const rows = result.rows;
  emit(opts, { ok: true, dir: outDir, ms, overlays: rows }, () =>
    renderTable(rows, [
      { header: "MACHINE", cell: (r) => r.folder },
      { header: "ID", cell: (r) => r.id },
      { header: "FILES", cell: (r) => String(r.files), align: "right" },
      { header: "SIZE", cell: (r) => formatBytes(r.bytes), align: "right" },
    ]) + `\n${rows.length} overlays in ${outDir} (${ms} ms)\n`);
  if (!opts.json && rows.length === 0) out("no machines to compile\n");
  return 0;
}
