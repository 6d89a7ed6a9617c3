/**
 * @module
 * Runs `mesh serve` as a real process in a lab namespace, for end-to-end
 * tests, the boot benchmark and the demo: a /host0 for a lab switch, the
 * daemon with its JSON log lines, the CLI with --json, and memory figures.
 */
import { copyTree } from "../config_corpus/tree.ts";
import type { ExecResult, Lab } from "./netns.ts";
import { TextLineStream } from "./lines.ts";

export const MAIN = new URL("../../main.ts", import.meta.url).pathname;
export const EXAMPLE = new URL("../../host0-example", import.meta.url).pathname;

/** Runs `mesh <args...>` from this checkout in `host`'s namespace (`--cached-only`: offline). */
export function meshIn(
  lab: Lab,
  host: string,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<ExecResult> {
  return lab.exec(host, [Deno.execPath(), "run", "-A", "--cached-only", MAIN, ...args], {
    timeoutMs,
  });
}

/** The command line of `mesh --host0 <host0> <args...>` run from this checkout. */
export function meshCommand(host0: string, ...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", MAIN, "--host0", host0, ...args];
}

export interface Daemon {
  readonly child: Deno.ChildProcess;
  /** Every JSON log record so far. */
  readonly logs: Record<string, unknown>[];
  /** The "mesh serving" record; rejects when the daemon exits before it. */
  readonly ready: Promise<Record<string, unknown>>;
}

/** Starts `mesh --host0 <host0> serve` in `host`'s namespace. */
export function startDaemon(lab: Lab, host: string, host0: string): Daemon {
  const child = lab.spawn(host, meshCommand(host0, "--log-format", "json", "serve"), {
    stdout: "piped",
    stderr: "piped",
  });
  const logs: Record<string, unknown>[] = [];
  let resolveReady: (r: Record<string, unknown>) => void = () => {};
  let rejectReady: (e: Error) => void = () => {};
  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  const stderr: string[] = [];
  (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TextLineStream(),
    );
    for await (const line of lines) {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        logs.push(rec);
        if (rec.message === "mesh serving") resolveReady(rec);
      } catch { /* not JSON */ }
    }
    // A no-op once resolved; otherwise the daemon died before serving.
    rejectReady(
      new Error(
        `daemon exited before it was ready: ${stderr.join("").trim()} ${
          JSON.stringify(logs.slice(-3))
        }`,
      ),
    );
  })();
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr.push(chunk);
  })();
  return { child, logs, ready };
}

/** Stops a daemon with SIGTERM (ignores one that is gone) and waits for it. */
export async function stopDaemon(d: Daemon): Promise<Deno.CommandStatus> {
  try {
    d.child.kill("SIGTERM");
  } catch { /* already gone */ }
  return await d.child.status;
}

/** Runs a mesh CLI command with --json on the host, returns the parsed output. */
export async function meshJson(host0: string, args: readonly string[]): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--host0", host0, "--json", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`mesh ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Resident and peak memory of a process, in MiB. */
export function memory(pid: number): { rss: number; peak: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return { rss: Math.round(kb("VmRSS") / 1024), peak: Math.round(kb("VmHWM") / 1024) };
}

/**
 * A /host0 for a lab switch: host0-example with a mesh.yaml that serves eth0
 * from `pool`, boots the QEMU kit's kernel/initrd from <state>/boot, and a
 * marker file in the default overlay (`from-the-default-overlay`).
 */
export async function writeLabHost0(dir: string, opts: {
  state: string;
  srv: string;
  pool: readonly [string, string];
  extraYaml?: string;
}): Promise<void> {
  await copyTree(EXAMPLE, dir);
  await Deno.writeTextFile(
    `${dir}/mesh.yaml`,
    `# written for a lab by tests/lib/mesh_daemon.ts
state_dir: ${opts.state}
interfaces:
  eth0:
    mode: server
    pool: { start: ${opts.pool[0]}, end: ${opts.pool[1]} }
dhcp:
  lease_time: 600
boot:
  kernel: boot/vmlinuz
  initramfs: boot/initrd.gz
  modloop: boot/modloop-none
  cmdline: console=ttyS0 mesh.e2e.online=http://${opts.srv}/api/v1/report/online
${opts.extraYaml ?? ""}`,
  );
  await Deno.writeTextFile(`${dir}/machines/default/e2e-marker`, "from-the-default-overlay\n");
  await Deno.writeTextFile(
    `${dir}/machines/default/manifest`,
    (await Deno.readTextFile(`${dir}/machines/default/manifest`)) +
      "\nO MODE=root:root:0644 SRC=/host0/machines/default/e2e-marker TGT=/etc/mesh-e2e-marker\n",
  );
}

/** Adds a machine folder whose overlay holds `marker` in /etc/mesh-e2e-marker. */
export async function addLabMachine(
  host0: string,
  folder: string,
  id: string,
  marker: string,
): Promise<void> {
  const dir = `${host0}/machines/${folder}`;
  await Deno.mkdir(dir);
  await Deno.writeTextFile(`${dir}/UUID`, `${id}\n`);
  await Deno.writeTextFile(`${dir}/marker`, `${marker}\n`);
  await Deno.writeTextFile(
    `${dir}/manifest`,
    `O MODE=root:root:0644 SRC=/host0/machines/${folder}/marker TGT=/etc/mesh-e2e-marker\n`,
  );
}

/** Copies the kit's kernel and initrd to where writeLabHost0's mesh.yaml expects them. */
export async function installLabBootFiles(
  state: string,
  assets: { kernel: string; initrd: string },
): Promise<void> {
  await Deno.mkdir(`${state}/boot`, { recursive: true });
  await Deno.copyFile(assets.kernel, `${state}/boot/vmlinuz`);
  await Deno.copyFile(assets.initrd, `${state}/boot/initrd.gz`);
}

/**
 * Waits for the first log record with `message` logged after `since` records
 * (pass `d.logs.length` before triggering what should log it).
 */
export async function waitForLog(
  d: Daemon,
  message: string,
  opts: { since?: number; timeoutMs?: number } = {},
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const found = d.logs.slice(opts.since ?? 0).find((r) => r.message === message);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(
        `no "${message}" log within the timeout; last: ${JSON.stringify(d.logs.slice(-3))}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Reads a daemon's JSON log from `stdout` until its "mesh serving" record
 * (true) or the end of the stream (false), then leaves the rest unread: a
 * cancel would wait for more output.
 */
export async function readUntilServing(stdout: ReadableStream<Uint8Array>): Promise<boolean> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  try {
    while (!seen.includes('"mesh serving"')) {
      const { done, value } = await reader.read();
      if (done) return false;
      seen += value;
    }
    return true;
  } finally {
    reader.releaseLock();
  }
}
