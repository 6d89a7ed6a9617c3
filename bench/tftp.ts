/**
 * TFTP benchmark: our server against tftpd-hpa and dnsmasq's TFTP, one at a
 * time on port 69 in a lab namespace, with the same client (atftp) for all.
 *   deno run -A bench/tftp.ts
 * Rows: MB/s for a 64 MiB file at blksize 512, 1468, and 1468 + windowsize 16
 * (tftpd-hpa 5.2 and dnsmasq 2.90 do not implement windowsize and fall back
 * to lock-step); then 100 concurrent clients fetching 1 MiB (total time,
 * failures). Bounded: every client run has a timeout; the lab is removed.
 *   deno run -A bench/tftp.ts --runs 3 --servers ours,tftpd-hpa
 * repeats the whole set, alternating the order of the servers (the machine
 * may be shared), and prints the median of each cell.
 *
 * Reading the lock-step rows: each block is a round trip between two
 * processes, so the figure depends on how fast a sleeping thread wakes up.
 * On an idle VM a halted vCPU is slow to wake (tftpd-hpa ~8 MB/s at 512);
 * when neighbours keep the vCPUs busy it is fast (tftpd-hpa ~20-25 MB/s).
 * Our server polls for up to 50 us before sleeping (src/net/reactor.ts),
 * so it does not depend on that as much (~20 MB/s either way).
 */
import { createLab, type Lab, labSkipReason } from "../tests/lib/netns.ts";
import { startOurServer, writeTestFile } from "../tests/tftp/lab_util.ts";

const SRV = "10.84.0.1";
const MiB = 1024 * 1024;
const BIG = 64 * MiB;
const CONCURRENT = 100;

type ServerName = "ours" | "tftpd-hpa" | "dnsmasq";
const ALL_SERVERS: ServerName[] = ["ours", "tftpd-hpa", "dnsmasq"];

function argValue(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
const RUNS = Math.max(1, Number(argValue("--runs") ?? 1));
const SERVERS = (argValue("--servers")?.split(",") ?? ALL_SERVERS).filter((s): s is ServerName =>
  (ALL_SERVERS as string[]).includes(s)
);

function median(xs: (number | null)[]): number | null {
  if (xs.length === 0 || xs.some((x) => x === null)) return null;
  const v = (xs as number[]).toSorted((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

async function startServer(
  lab: Lab,
  name: ServerName,
  root: string,
): Promise<Deno.ChildProcess | null> {
  if (name === "ours") {
    // perClient raised: the 100 concurrent clients all come from one address.
    await startOurServer(lab, "srv", { root, hostname: SRV, port: 69, perClient: 1000 });
    return null;
  }
  const child = name === "tftpd-hpa"
    ? lab.spawn("srv", ["/usr/sbin/in.tftpd", "-L", "-s", root, "-a", `${SRV}:69`])
    : lab.spawn("srv", [
      "dnsmasq",
      "-k",
      "--conf-file=/dev/null",
      "--port=0",
      "--user=root",
      "--enable-tftp",
      `--tftp-root=${root}`,
      `--listen-address=${SRV}`,
      "--bind-interfaces",
      "--tftp-max=1000",
      "--pid-file=",
    ]);
  // Wait until the port answers (a request for a missing file gets an error).
  for (let i = 0; i < 50; i++) {
    const r = await lab.exec("cli", ["atftp", "-g", "-r", "nope", "-l", "/dev/null", SRV, "69"], {
      timeoutMs: 3000,
    });
    if (/File not found|not found/i.test(r.stdout + r.stderr)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

async function stopServer(lab: Lab, child: Deno.ChildProcess | null): Promise<void> {
  if (child) {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  } else {
    // Our server runs from lab.spawn too; kill every process in srv by PID.
    const pids = await lab.exec("srv", ["sh", "-c", "ip netns pids $(ip netns identify)"]);
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
  }
  await new Promise((r) => setTimeout(r, 200));
}

function atftpArgs(file: string, out: string, options: string[]): string[] {
  return [
    "atftp",
    "-g",
    "-r",
    file,
    "-l",
    out,
    ...options.flatMap((o) => ["--option", o]),
    SRV,
    "69",
  ];
}

async function throughput(lab: Lab, dir: string, options: string[]): Promise<number | null> {
  const out = `${dir}/out.bin`;
  const t0 = performance.now();
  const r = await lab.exec("cli", atftpArgs("big.bin", out, options), { timeoutMs: 60_000 });
  const secs = (performance.now() - t0) / 1000;
  const size = await Deno.stat(out).then((s) => s.size).catch(() => -1);
  await Deno.remove(out).catch(() => {});
  if (r.code !== 0 || size !== BIG) return null;
  return BIG / MiB / secs;
}

async function storm(lab: Lab, dir: string): Promise<{ secs: number; failures: number }> {
  const t0 = performance.now();
  const runs = Array.from({ length: CONCURRENT }, async (_, i) => {
    const out = `${dir}/c${i}.bin`;
    const r = await lab.exec("cli", atftpArgs("one.bin", out, ["blksize 1468"]), {
      timeoutMs: 60_000,
    });
    const size = await Deno.stat(out).then((s) => s.size).catch(() => -1);
    await Deno.remove(out).catch(() => {});
    return r.code === 0 && size === MiB;
  });
  const ok = await Promise.all(runs);
  return { secs: (performance.now() - t0) / 1000, failures: ok.filter((x) => !x).length };
}

async function main(): Promise<void> {
  const skip = labSkipReason(["atftp", "in.tftpd", "dnsmasq"]);
  if (skip) {
    console.log(`tftp bench skipped: ${skip}`);
    return;
  }
  await using lab = await createLab("tbench", [
    { name: "srv", address: `${SRV}/24` },
    { name: "cli", address: "10.84.0.2/24" },
  ]);
  const dir = await Deno.makeTempDir({ prefix: "mesh-tftp-bench-" });
  try {
    const root = `${dir}/root`;
    await Deno.mkdir(root);
    await writeTestFile(`${root}/big.bin`, BIG);
    await writeTestFile(`${root}/one.bin`, MiB);
    const rows: { name: string; unit: string; values: Record<string, (number | null)[]> }[] = [
      { name: "64 MiB, blksize 512", unit: "MB/s", values: {} },
      { name: "64 MiB, blksize 1468", unit: "MB/s", values: {} },
      { name: "64 MiB, blksize 1468 windowsize 16", unit: "MB/s", values: {} },
      { name: `${CONCURRENT} clients x 1 MiB, total`, unit: "s", values: {} },
      { name: `${CONCURRENT} clients x 1 MiB, failures`, unit: "", values: {} },
    ];
    const record = (row: number, server: string, v: number | null) => {
      (rows[row]!.values[server] ??= []).push(v);
    };
    const optionSets = [[], ["blksize 1468"], ["blksize 1468", "windowsize 16"]];
    for (let run = 0; run < RUNS; run++) {
      // Alternate the order: a neighbour's load then hits every server alike.
      const order = run % 2 === 0 ? SERVERS : SERVERS.toReversed();
      for (const server of order) {
        const child = await startServer(lab, server, root);
        try {
          for (let i = 0; i < optionSets.length; i++) {
            record(i, server, await throughput(lab, dir, optionSets[i]!));
          }
          const s = await storm(lab, dir);
          record(3, server, s.secs);
          record(4, server, s.failures);
        } finally {
          await stopServer(lab, child);
        }
      }
    }
    const fmt = (v: number | null | undefined) =>
      v === null || v === undefined ? "fail" : v.toFixed(2);
    const header = ["test", ...SERVERS, "ours/tftpd-hpa"];
    const cell = (r: (typeof rows)[number], server: string) =>
      r.unit === "" // failures: the sum over runs, not a median
        ? r.values[server]?.reduce<number | null>(
          (a, b) => a === null || b === null ? null : a + b,
          0,
        )
        : median(r.values[server] ?? []);
    const lines = rows.map((r) => {
      const o = cell(r, "ours"), h = cell(r, "tftpd-hpa");
      const ratio = o == null || h == null || h === 0 ? "-" : (o / h).toFixed(2);
      return [
        `${r.name}${r.unit ? ` (${r.unit})` : ""}`,
        ...SERVERS.map((s) => fmt(cell(r, s))),
        r.unit === "" ? "-" : ratio,
      ];
    });
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const show = (cols: string[]) =>
      cols.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
    console.log(
      `TFTP benchmark (client: atftp 0.8 for every server; lab veth link; ${
        RUNS > 1 ? `median of ${RUNS} runs, failures summed` : "1 run"
      })`,
    );
    console.log(show(header));
    for (const l of lines) console.log(show(l));
    console.log(
      "ratio: MB/s rows ours/tftpd-hpa (higher is better); time row ours/tftpd-hpa (lower is better)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
