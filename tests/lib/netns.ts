/**
 * @module
 * Test-only network labs: network namespaces joined by a bridge ("switch"),
 * built by the test and torn down by it, also on failure. Nothing here ever
 * touches the host's own interfaces. Processes started through a lab are
 * killed by PID, and `cleanup` also kills whatever is left in its namespaces.
 */
import { processAlive, removeNamespace, runCommand } from "../../src/lab/mod.ts";

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HostSpec {
  /** Short name, e.g. "srv" or "cli". The namespace is `<lab>-<name>`. */
  readonly name: string;
  /** Address with prefix for eth0, e.g. "10.77.0.1/24"; omit for a DHCP client. */
  readonly address?: string;
  /** Extra `tc qdisc` args for eth0 (e.g. ["netem", "loss", "5%"]). */
  readonly netem?: readonly string[];
}

export interface Lab {
  readonly id: string;
  /** A directory of the lab's own (lease files, logs), removed with it. */
  readonly dir: string;
  /** Namespace name of a host. */
  ns(host: string): string;
  /** Runs a command in a host namespace and waits for it. */
  exec(
    host: string,
    cmd: readonly string[],
    opts?: { stdin?: string; timeoutMs?: number },
  ): Promise<ExecResult>;
  /** Starts a long-running command in a host namespace; killed on cleanup. */
  spawn(
    host: string,
    cmd: readonly string[],
    opts?: {
      stdout?: "piped" | "null" | "inherit";
      stderr?: "piped" | "null" | "inherit";
      env?: Record<string, string>;
    },
  ): Deno.ChildProcess;
  /** Kills processes started by `spawn` and everything in the namespaces, deletes the namespaces. */
  cleanup(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** True when running as root (network labs need it). */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

/** True when `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return true;
    } catch { /* keep looking */ }
  }
  return false;
}

/** Why a lab test must be skipped, or null when it can run. */
export function labSkipReason(commands: readonly string[] = []): string | null {
  if (Deno.build.os !== "linux") return "network labs need Linux";
  if (!isRoot()) return "network labs need root (ip netns)";
  for (const c of ["ip", ...commands]) if (!hasCommand(c)) return `missing command: ${c}`;
  return null;
}

/** Runs a command and collects its output (killed after `timeoutMs`, 120 s by default). */
export function run(
  cmd: readonly string[],
  opts: { stdin?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return runCommand(cmd, { timeoutMs: 120_000, ...opts });
}

async function must(cmd: readonly string[]): Promise<void> {
  const r = await run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
}

let counter = 0;

/**
 * A lab namespace's name: `<prefix><pid>x<n>-<host>`, the pid being the
 * process that built it (prefixes are letters and digits ending in a letter).
 */
const LAB_NAME = /^[a-z][a-z0-9]*?[a-z](\d+)x\d+-[a-z0-9-]+$/;

/**
 * Removes the labs of processes that no longer run. A test process killed
 * from outside (a timeout, SIGKILL) never reaches its `cleanup`; the next
 * process that builds a lab removes what it left.
 */
export async function sweepStaleLabs(): Promise<void> {
  const list = await run(["ip", "netns", "list"]);
  for (const line of list.stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const pid = Number(LAB_NAME.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === Deno.pid || processAlive(pid)) continue;
    await removeNamespace(name);
  }
}

/**
 * Builds a lab: a switch namespace with bridge br0 and one namespace per host,
 * each with eth0 (a veth whose peer is enslaved to br0). Lab ids are unique per
 * process, so parallel tests do not collide.
 */
export function createLab(prefix: string, hosts: readonly HostSpec[]): Promise<Lab> {
  return createNetLab(prefix, {
    switches: ["br0"],
    hosts: hosts.map((h) => ({
      name: h.name,
      ports: [{
        name: "eth0",
        switch: "br0",
        ...(h.address ? { address: h.address } : {}),
        ...(h.netem ? { qdisc: h.netem } : {}),
      }],
    })),
  });
}

/** One port of a host in a multi-switch lab. */
export interface PortSpec {
  /** Interface name in the host, e.g. "eth0". */
  readonly name: string;
  /** The bridge it plugs into (one of `switches`). */
  readonly switch: string;
  readonly address?: string;
  /** `tc qdisc add dev <port> root ...` args. */
  readonly qdisc?: readonly string[];
  /** False: the switch side stays down, so the host's port has no carrier. */
  readonly carrier?: boolean;
}

export interface NetLabSpec {
  /** Bridge names, all in the lab's switch namespace. */
  readonly switches: readonly string[];
  readonly hosts: readonly { readonly name: string; readonly ports: readonly PortSpec[] }[];
}

/** A lab that can also plug and unplug a host's port (its switch side). */
export interface NetLab extends Lab {
  /** Sets the switch side of `host`'s `port` down (unplugged) or up (plugged). */
  plug(host: string, port: string, up: boolean): Promise<void>;
}

/**
 * Builds a lab with several switches (bridges in one switch namespace) and
 * hosts with any number of ports, each plugged into one switch.
 */
export async function createNetLab(prefix: string, spec: NetLabSpec): Promise<NetLab> {
  await sweepStaleLabs();
  const id = `${prefix}${Deno.pid}x${counter++}`;
  const sw = `${id}-sw`;
  const created: string[] = [];
  const children: Deno.ChildProcess[] = [];
  const peers = new Map<string, string>();
  const ns = (h: string) => `${id}-${h}`;
  const dir = await Deno.makeTempDir({ prefix: `mesh-lab-${id}-` });
  const lab: NetLab = {
    id,
    dir,
    ns,
    exec: (host, cmd, opts) => run(["ip", "netns", "exec", ns(host), ...cmd], opts),
    spawn(host, cmd, opts = {}) {
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", ns(host), ...cmd],
        stdin: "null",
        stdout: opts.stdout ?? "null",
        stderr: opts.stderr ?? "null",
        ...(opts.env ? { env: opts.env } : {}),
      }).spawn();
      children.push(child);
      return child;
    },
    async plug(host, port, up) {
      const peer = peers.get(`${host}/${port}`);
      if (peer === undefined) throw new Error(`no port ${port} on ${host}`);
      await must(["ip", "-n", sw, "link", "set", peer, up ? "up" : "down"]);
    },
    async cleanup() {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* exited */ }
        try {
          await c.status;
        } catch { /* ignore */ }
      }
      for (const n of created) await removeNamespace(n);
      created.length = 0;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    async [Symbol.asyncDispose]() {
      await lab.cleanup();
    },
  };
  try {
    await must(["ip", "netns", "add", sw]);
    created.push(sw);
    await must(["ip", "-n", sw, "link", "set", "lo", "up"]);
    for (const br of spec.switches) {
      await must(["ip", "-n", sw, "link", "add", br, "type", "bridge", "forward_delay", "0"]);
      await must(["ip", "-n", sw, "link", "set", br, "up"]);
    }
    let i = 0;
    for (const h of spec.hosts) {
      const n = ns(h.name);
      await must(["ip", "netns", "add", n]);
      created.push(n);
      await must(["ip", "-n", n, "link", "set", "lo", "up"]);
      for (const p of h.ports) {
        const peer = `p${i++}`;
        peers.set(`${h.name}/${p.name}`, peer);
        await must([
          "ip",
          "link",
          "add",
          p.name,
          "netns",
          n,
          "type",
          "veth",
          "peer",
          "name",
          peer,
          "netns",
          sw,
        ]);
        await must(["ip", "-n", sw, "link", "set", peer, "master", p.switch]);
        if (p.carrier !== false) await must(["ip", "-n", sw, "link", "set", peer, "up"]);
        await must(["ip", "-n", n, "link", "set", p.name, "up"]);
        if (p.address) await must(["ip", "-n", n, "addr", "add", p.address, "dev", p.name]);
        if (p.qdisc) {
          await must([
            "ip",
            "netns",
            "exec",
            n,
            "tc",
            "qdisc",
            "add",
            "dev",
            p.name,
            "root",
            ...p.qdisc,
          ]);
        }
      }
    }
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
  return lab;
}
