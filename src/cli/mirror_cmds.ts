/**
 * @module
 * `mesh system download` (fill the offline Alpine mirror from an upstream
 * URL or a local mirror tree) and `mesh mirror status` (what the served
 * tree holds against what /host0 asks for).
 */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import { loadHost0 } from "../config/mod.ts";
import { ConfigError } from "../errors.ts";
import {
  downloadMirror,
  type DownloadReport,
  machineWanted,
  mirrorStatus,
  mirrorWanted,
  type Progress,
} from "../mirror/mod.ts";
import { emit, type GlobalOptions, host0Dir } from "./context.ts";
import { formatBytes, formatTime, renderTable } from "./format.ts";

export interface DownloadCmdOptions {
  readonly from?: string;
  readonly branch?: string;
  readonly arch?: readonly string[];
  readonly parallel?: number;
}

/** Architectures Alpine publishes. */
const ARCHES = [
  "x86_64",
  "aarch64",
  "x86",
  "armv7",
  "armhf",
  "ppc64le",
  "s390x",
  "riscv64",
  "loongarch64",
];

/** Commander parser for `--branch`. */
export function branchArg(text: string): string {
  if (!/^(latest-stable|edge|v\d+\.\d+)$/.test(text)) {
    throw new InvalidArgumentError('expected "latest-stable", "edge" or like "v3.22"');
  }
  return text;
}

/** Commander parser for `--arch x86_64,aarch64`. */
export function archList(text: string): string[] {
  const list = text.split(",").map((a) => a.trim()).filter((a) => a !== "");
  const bad = list.filter((a) => !ARCHES.includes(a));
  if (list.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `unknown arch ${bad.join(", ") || "(none)"}: expected ${ARCHES.join(", ")}`,
    );
  }
  return [...new Set(list)];
}

/** A redrawn progress line on stderr when it is a terminal; nothing otherwise. */
function progressBar(): { update(p: Progress): void; end(): void } {
  const tty = Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let last = 0;
  const started = Date.now();
  return {
    update(p) {
      if (!tty) return;
      const now = Date.now();
      if (p.done !== p.total && now - last < 100) return;
      last = now;
      const frac = p.totalBytes > 0 ? p.bytes / p.totalBytes : p.total > 0 ? p.done / p.total : 1;
      const width = 24;
      const fill = Math.round(Math.min(1, frac) * width);
      const bar = "#".repeat(fill) + "-".repeat(width - fill);
      const rate = p.bytes / Math.max(0.001, (now - started) / 1000);
      const sizes = p.totalBytes > 0
        ? ` ${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)} ${formatBytes(rate)}/s`
        : p.bytes > 0
        ? ` ${formatBytes(p.bytes)}`
        : "";
      const line = `\r\x1b[2K${p.phase} [${bar}] ${p.done}/${p.total}${sizes}`;
      Deno.stderr.writeSync(enc.encode(line));
    },
    end() {
      if (tty) Deno.stderr.writeSync(enc.encode("\r\x1b[2K"));
    },
  };
}

function downloadTable(r: DownloadReport): string {
  const rows = r.arches.flatMap((a) => a.repos.map((repo) => ({ arch: a.arch, ...repo })));
  const lines = [
    `${r.branch} from ${r.from} → ${r.served} (${r.published ? "published" : "unchanged"})`,
    "",
    renderTable(rows, [
      { header: "ARCH", cell: (x) => x.arch },
      { header: "REPO", cell: (x) => x.repo },
      { header: "INDEX", cell: (x) => x.index },
      { header: "SIGNED BY", cell: (x) => x.keyName },
      { header: "PACKAGES", cell: (x) => String(x.packages), align: "right" },
      { header: "SIZE", cell: (x) => formatBytes(x.bytes), align: "right" },
      { header: "FETCHED", cell: (x) => String(x.downloaded), align: "right" },
    ]).trimEnd(),
  ];
  for (const a of r.arches) {
    const files = a.netboot.map((n) =>
      `${n.rel.split("/").pop()} ${formatBytes(n.size)} (${
        n.check === "none" ? "no checksum published" : `${n.check} ok`
      }${n.downloaded ? ", fetched" : ""})`
    );
    lines.push(`netboot ${a.arch}: ${files.join(", ")}`);
    if (a.release) lines.push(`  upstream release ${a.release.version} (${a.release.file})`);
  }
  if (r.carriedArches.length > 0) lines.push(`kept as they were: ${r.carriedArches.join(", ")}`);
  for (const w of r.refused) lines.push(`refused and fetched again: ${w}`);
  for (const w of r.warnings.slice(0, 5)) lines.push(`index warning: ${w}`);
  if (r.warnings.length > 5) lines.push(`… and ${r.warnings.length - 5} more index warnings`);
  lines.push(
    `${r.packages} packages (${formatBytes(r.bytes)}); fetched ${r.downloaded.files} ` +
      `(${formatBytes(r.downloaded.bytes)}), removed ${r.removed.length}, ` +
      `in ${(r.ms / 1000).toFixed(1)} s (resolve ${r.timings.resolveMs} ms)`,
  );
  return lines.join("\n") + "\n";
}

/** `mesh system download`. */
export async function systemDownload(opts: GlobalOptions, o: DownloadCmdOptions): Promise<number> {
  const host0 = await loadHost0(host0Dir(opts));
  const s = host0.settings;
  const from = o.from ?? s.mirror.upstream;
  if (from === undefined) {
    throw new ConfigError({
      file: `${host0.root}/mesh.yaml`,
      message: "mirror.upstream is not set: set it (e.g. https://dl-cdn.alpinelinux.org/alpine) " +
        "or pass --from URL|DIR",
    });
  }
  const local = !/^https?:\/\//i.test(from);
  const bar = progressBar();
  let report: DownloadReport;
  try {
    report = await downloadMirror({
      from: local && !from.startsWith("/") ? `${Deno.cwd()}/${from}` : from,
      branch: o.branch ?? s.boot.alpineBranch,
      arches: o.arch ?? (s.boot.efiArm64 ? ["x86_64", "aarch64"] : ["x86_64"]),
      mirrorDir: s.mirror.dir,
      keysDir: `${host0.root}/keys/apk`,
      wanted: mirrorWanted(host0),
      ...(o.parallel ? { parallel: o.parallel } : {}),
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.end();
  }
  emit(opts, { ok: true, ...report }, () => downloadTable(report));
  return 0;
}

/** `mesh mirror status`. */
export async function mirrorStatusCmd(
  opts: GlobalOptions,
  o: { branch?: string },
): Promise<number> {
  const host0 = await loadHost0(host0Dir(opts));
  const s = host0.settings;
  const status = await mirrorStatus({
    mirrorDir: s.mirror.dir,
    branch: o.branch ?? s.boot.alpineBranch,
    wanted: mirrorWanted(host0),
    machines: host0.machines.filter((m) => !m.skip).map((m) => ({
      folder: m.folder,
      id: m.id,
      wanted: machineWanted(host0, m),
    })),
  });
  emit(opts, status, () => {
    const ok = status.machines.filter((m) => m.satisfied).length;
    const lines = [
      `branch         ${status.branch}`,
      `served         ${status.dir}${status.tree ? ` → ${status.tree}` : " (nothing published)"}`,
      `upstream       ${status.from ?? "-"}`,
      `last download  ${formatTime(status.lastDownload)} (tree changed ${
        formatTime(status.lastChange)
      })`,
      `packages       ${status.packages}, ${status.missing} missing, ${status.stale} stale ` +
      `(${formatBytes(status.bytes)} with the netboot files)`,
      `machines       ${ok} of ${status.machines.length} satisfied` +
      (status.satisfied ? "" : " — run mesh system download"),
      "",
      renderTable(status.arches, [
        { header: "ARCH", cell: (a) => a.arch },
        { header: "PACKAGES", cell: (a) => String(a.packages), align: "right" },
        { header: "SIZE", cell: (a) => formatBytes(a.bytes), align: "right" },
        { header: "MISSING", cell: (a) => String(a.missing.length), align: "right" },
        { header: "STALE", cell: (a) => String(a.stale.length), align: "right" },
      ]).trimEnd(),
    ];
    for (const m of status.machines.filter((m) => !m.satisfied)) {
      lines.push(`${m.folder} (${m.id}): ${m.problems.join("; ")}`);
    }
    for (const p of status.problems) lines.push(`problem: ${p}`);
    return lines.join("\n") + "\n";
  });
  return 0;
}
