/**
 * @module
 * The lab's own throw-away network: bridges ("switches") in one switch
 * namespace and one namespace per host, joined by veth pairs. Every name
 * embeds the id `mlab<pid>x0`, so a lab whose process is gone can be found
 * and removed. Processes are started through `spawn`/`exec`, remembered by
 * PID and killed by PID on `destroy`, which also kills whatever still runs
 * in the lab's namespaces before deleting them.
 */

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One port of a host: an interface plugged into a switch. */
export interface LabPort {
  readonly name: string;
  readonly switch: string;
  readonly address?: string;
}

export interface LabHost {
  readonly name: string;
  readonly ports: readonly LabPort[];
}

/** Lab namespace names: `mlab<pid>x<n>-<host>`. */
export const LAB_PREFIX = "mlab";
const LAB_NAME = /^mlab(\d+)x\d+-[a-z0-9-]+$/;
/** Where a lab keeps its files: `<tmp>/mesh-lab-<id>-XXXX`. */
export const DIR_PREFIX = "mesh-lab-";
/** A file in a lab's directory that marks it as kept (`--keep`): never swept. */
export const KEEP_MARK = "KEPT";

/** Runs a command (with `stdin` as its input) and collects its output; killed after `timeoutMs`. */
export async function run(
  cmd: readonly string[],
  opts: {
    timeoutMs?: number;
    env?: Record<string, string>;
    pids?: Set<number>;
    stdin?: string;
  } = {},
): Promise<ExecResult> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1) as string[],
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(opts.env ? { env: opts.env } : {}),
  }).spawn();
  opts.pids?.add(child.pid);
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, opts.timeoutMs ?? 60_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
    opts.pids?.delete(child.pid);
  }
}

async function must(cmd: readonly string[]): Promise<void> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
}

export function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Kills what runs in namespace `n` (by PID), then deletes it. */
export async function removeNamespace(n: string): Promise<void> {
  const pids = await run(["ip", "netns", "pids", n]);
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
    try {
      Deno.kill(Number(pid), "SIGKILL");
    } catch { /* gone */ }
  }
  await run(["ip", "netns", "del", n]);
}

/** Namespaces of lab `id` (every one when `id` is omitted), from `ip netns list`. */
export async function labNamespaces(id?: string): Promise<string[]> {
  const list = await run(["ip", "netns", "list"]);
  return list.stdout.split("\n").map((l) => l.split(" ")[0] ?? "").filter((n) =>
    LAB_NAME.test(n) && (id === undefined || n.startsWith(`${id}-`))
  );
}

/** Directories of lab `id` in the temp directory. */
export function labDirs(id?: string): string[] {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(tmp)) {
      if (!e.isDirectory || !e.name.startsWith(DIR_PREFIX)) continue;
      if (id === undefined || e.name.startsWith(`${DIR_PREFIX}${id}-`)) {
        out.push(`${tmp}/${e.name}`);
      }
    }
  } catch { /* no temp directory */ }
  return out;
}

/** Removes lab `id`: its processes, namespaces and directory. Returns what it removed. */
export async function removeLab(id: string): Promise<string[]> {
  const removed: string[] = [];
  for (const n of await labNamespaces(id)) {
    await removeNamespace(n);
    removed.push(`netns ${n}`);
  }
  for (const d of labDirs(id)) {
    await Deno.remove(d, { recursive: true }).catch(() => {});
    removed.push(`dir ${d}`);
  }
  return removed;
}

/** Removes the labs of processes that are gone, unless they were kept on purpose. */
export async function sweepStaleLabs(): Promise<void> {
  const ids = new Set<string>();
  for (const n of await labNamespaces()) ids.add(n.slice(0, n.indexOf("-")));
  for (const d of labDirs()) {
    const id = /\/mesh-lab-(mlab\d+x\d+)-[^/]+$/.exec(d)?.[1];
    if (id) ids.add(id);
  }
  for (const id of ids) {
    const pid = Number(/^mlab(\d+)x/.exec(id)?.[1] ?? NaN);
    if (pid === Deno.pid || processAlive(pid)) continue;
    const kept = labDirs(id).some((d) => {
      try {
        return Deno.statSync(`${d}/${KEEP_MARK}`).isFile;
      } catch {
        return false;
      }
    });
    if (!kept) await removeLab(id);
  }
}

/** A built lab network. */
export class LabNet {
  readonly pids = new Set<number>();
  readonly #created: string[] = [];
  #closing = false;

  private constructor(readonly id: string, readonly dir: string) {}

  /** The namespace of a host. */
  ns(host: string): string {
    return `${this.id}-${host}`;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** Builds switches (bridges in `<id>-sw`) and hosts with their ports. */
  static async create(switches: readonly string[], hosts: readonly LabHost[]): Promise<LabNet> {
    await sweepStaleLabs();
    const id = `${LAB_PREFIX}${Deno.pid}x0`;
    const dir = await Deno.makeTempDir({ prefix: `${DIR_PREFIX}${id}-` });
    const lab = new LabNet(id, dir);
    try {
      const sw = lab.ns("sw");
      await lab.#addNs(sw);
      for (const br of switches) {
        await must(["ip", "-n", sw, "link", "add", br, "type", "bridge", "forward_delay", "0"]);
        await must(["ip", "-n", sw, "link", "set", br, "up"]);
      }
      for (const h of hosts) await lab.addHost(h);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  #peer = 0;

  async #addNs(n: string): Promise<void> {
    await must(["ip", "netns", "add", n]);
    this.#created.push(n);
    await must(["ip", "-n", n, "link", "set", "lo", "up"]);
  }

  /** Adds a host namespace with its ports. */
  async addHost(h: LabHost): Promise<void> {
    const n = this.ns(h.name);
    await this.#addNs(n);
    for (const p of h.ports) {
      const peer = `p${this.#peer++}`;
      await must([
        ...["ip", "link", "add", p.name, "netns", n, "type", "veth"],
        ...["peer", "name", peer, "netns", this.ns("sw")],
      ]);
      await must(["ip", "-n", this.ns("sw"), "link", "set", peer, "master", p.switch]);
      await must(["ip", "-n", this.ns("sw"), "link", "set", peer, "up"]);
      await must(["ip", "-n", n, "link", "set", p.name, "up"]);
      if (p.address) await must(["ip", "-n", n, "addr", "add", p.address, "dev", p.name]);
    }
  }

  /** Runs a command in a host's namespace and waits for it. */
  exec(
    host: string,
    cmd: readonly string[],
    opts: { timeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<ExecResult> {
    if (this.#closing) return Promise.resolve({ code: 130, stdout: "", stderr: "lab closing" });
    return run(["ip", "netns", "exec", this.ns(host), ...cmd], { ...opts, pids: this.pids });
  }

  /** Starts a long-running command in a host's namespace; killed by `destroy`. */
  spawn(
    host: string,
    cmd: readonly string[],
    opts: { stdout?: "piped" | "null"; stderr?: "piped" | "null" } = {},
  ): Deno.ChildProcess {
    if (this.#closing) throw new Error("lab closing");
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", this.ns(host), ...cmd],
      stdin: "null",
      stdout: opts.stdout ?? "null",
      stderr: opts.stderr ?? "null",
    }).spawn();
    this.pids.add(child.pid);
    child.status.then(() => this.pids.delete(child.pid), () => {});
    return child;
  }

  /** Marks the lab as kept: its namespaces survive this process and later sweeps. */
  keep(): void {
    Deno.writeTextFileSync(`${this.dir}/${KEEP_MARK}`, `${Deno.pid}\n`);
  }

  /**
   * Kills the lab's processes (SIGTERM, then SIGKILL after `graceMs`) and
   * everything else in its namespaces, deletes them and the lab's directory.
   */
  async destroy(graceMs = 1500): Promise<void> {
    this.#closing = true;
    const pids = [...this.pids];
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* gone */ }
    }
    const until = Date.now() + graceMs;
    while (pids.some(processAlive) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    for (const n of this.#created.reverse()) await removeNamespace(n);
    this.#created.length = 0;
    // A process that was still writing its log can make one pass fail (ENOTEMPTY).
    for (let i = 0; i < 10; i++) {
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
      try {
        Deno.statSync(this.dir);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
