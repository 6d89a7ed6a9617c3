/**
 * @module
 * `mesh lab`: a whole virtual cluster on this machine. Two switches, a
 * central node with two ports on switch A (no DHCP server there) and one on
 * switch B (where dnsmasq already hands out addresses), `mesh serve` in auto
 * mode on a copy of host0-example, and N nodes booting through it, split over
 * both switches: lightweight ones (real DHCP/TFTP/HTTP clients in
 * namespaces), or with `--qemu` real VMs (SeaBIOS + iPXE and OVMF with its
 * own PXE, alternating) booting the QEMU kit's kernel and initramfs. Everything is torn down on exit, on error and on
 * SIGINT/SIGTERM, unless `--keep`.
 */
import { bootLightNode, type NodeState, UDHCPC_SCRIPT } from "./light_node.ts";
import { LabNet, removeLab } from "./netns.ts";
import { prepareBootAssets } from "./qemu_assets.ts";
import { bootQemuNode, type QemuNodeSpec } from "./qemu_node.ts";
import { qemuSkipReason } from "./qemu_vm.ts";
import { type LabSegment, LiveView, summaryText, topologyText, write } from "./view.ts";

export interface LabOptions {
  readonly nodes: number;
  readonly qemu: boolean;
  readonly keep: boolean;
  /** Seconds for all nodes to come online. */
  readonly timeout: number;
  /** Nodes booting at once. */
  readonly parallel?: number;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const EXAMPLE = new URL("../../host0-example/", import.meta.url).pathname;
const DNSMASQ_NET = "172.31.250";
const POOL = "10.123.0.0/16";
/** Ports of the central node and the switch each plugs into. */
const CENTRAL_PORTS = [
  { name: "eth0", switch: "swa" },
  { name: "eth1", switch: "swa" },
  { name: "eth2", switch: "swb" },
] as const;
const NEEDS = ["ip", "dnsmasq", "udhcpc", "tftp", "curl"];

/** True when this process is the compiled mesh binary (not `deno run main.ts`). */
function compiled(): boolean {
  return Deno.mainModule.includes("deno-compile-") || !/(^|\/)deno$/.test(Deno.execPath());
}

/** The command line that runs mesh itself. */
export function meshArgv(): string[] {
  return compiled() ? [Deno.execPath()] : [Deno.execPath(), "run", "-A", "--cached-only", MAIN];
}

function onPath(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return true;
    } catch { /* next */ }
  }
  return false;
}

/** Why the lab cannot run here (one line), or null. */
export function labUnavailable(): string | null {
  if (Deno.build.os !== "linux") return "mesh lab needs Linux (network namespaces)";
  const missing = NEEDS.filter((c) => !onPath(c));
  if (Deno.uid() !== 0) {
    return `mesh lab needs root (ip netns, bridges) and ${NEEDS.join(", ")}` +
      (missing.length ? ` (missing: ${missing.join(", ")}; tools/setup.sh installs them)` : "") +
      ": run it with sudo";
  }
  if (missing.length) {
    return `mesh lab needs ${
      missing.join(", ")
    }: install them (Debian: iproute2 dnsmasq busybox tftp-hpa curl, or tools/setup.sh)`;
  }
  return null;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

/** /host0 for the lab: host0-example (or a minimal one in the compiled binary), all ports auto. */
async function writeHost0(dir: string, state: string, qemu: boolean): Promise<void> {
  const host0 = `${dir}/host0`;
  try {
    await copyTree(EXAMPLE, host0);
  } catch {
    await Deno.mkdir(`${host0}/machines/default`, { recursive: true });
    await Deno.writeTextFile(`${host0}/machines/default/UUID`, "default\n");
    await Deno.writeTextFile(`${host0}/machines/default/hostname`, "mesh-node\n");
    await Deno.writeTextFile(
      `${host0}/machines/default/manifest`,
      "O MODE=root:root:0644 SRC=/host0/machines/default/hostname TGT=/etc/hostname\n",
    );
  }
  await Deno.writeTextFile(
    `${host0}/mesh.yaml`,
    `# written by mesh lab: no per-interface settings, every port is auto\nstate_dir: ${state}\nsubnet_pool:\n  - ${POOL}\n` +
      // The VMs boot the QEMU kit's kernel and initramfs (copied below). No
      // mesh.e2e.online= on the command line: mesh's address on the proxy
      // segment is leased, and a VM is online when its console says overlay=ok.
      (qemu
        ? `boot:\n  kernel: boot/vmlinuz\n  initramfs: boot/initrd.gz\n  modloop: boot/modloop-none\n  cmdline: console=ttyS0\n`
        : ""),
  );
  if (qemu) {
    const assets = await prepareBootAssets();
    await Deno.mkdir(`${state}/boot`, { recursive: true });
    await Deno.copyFile(assets.kernel, `${state}/boot/vmlinuz`);
    await Deno.copyFile(assets.initrd, `${state}/boot/initrd.gz`);
    return;
  }
  // Lightweight nodes only download these: small stand-ins where the boot script points.
  // (/alpine/ is the mirror directory, <state>/mirror by default.)
  const netboot = `${state}/mirror/latest-stable/releases/x86_64/netboot`;
  await Deno.mkdir(netboot, { recursive: true });
  for (const f of ["vmlinuz-lts", "initramfs-lts", "modloop-lts"]) {
    await Deno.writeTextFile(`${netboot}/${f}`, `mesh lab stand-in for ${f}\n`);
  }
}

interface DaemonHandle {
  readonly child: Deno.ChildProcess;
  readonly log: string;
  /** Every JSON log record so far (reads the log file again). */
  logs(): Record<string, unknown>[];
}

/**
 * Starts `mesh serve` in the central namespace, its output going to a file in
 * the lab's directory (so a kept lab's daemon outlives this process).
 */
function startDaemon(lab: LabNet, host0: string): DaemonHandle {
  const log = `${lab.dir}/mesh-serve.log`;
  const argv = [...meshArgv(), "--host0", host0, "--log-format", "json", "serve"];
  const child = lab.spawn("c", ["sh", "-c", `exec "$@" >>'${log}' 2>&1`, "sh", ...argv]);
  return {
    child,
    log,
    logs() {
      const text = (() => {
        try {
          return Deno.readTextFileSync(log);
        } catch {
          return "";
        }
      })();
      const out: Record<string, unknown>[] = [];
      for (const l of text.split("\n")) {
        if (!l.startsWith("{")) continue;
        try {
          out.push(JSON.parse(l));
        } catch { /* partial line */ }
      }
      return out;
    },
  };
}

async function startDnsmasq(lab: LabNet): Promise<void> {
  const log = `${lab.dir}/dnsmasq.log`;
  lab.spawn("d", [
    "dnsmasq",
    ...["--keep-in-foreground", "--no-daemon", "--port=0", "--interface=eth0", "--bind-interfaces"],
    ...["--no-resolv", "--no-hosts", "--pid-file=", "--user=root", "--no-ping", "--log-dhcp"],
    `--dhcp-leasefile=${lab.dir}/dnsmasq.leases`,
    `--log-facility=${log}`,
    `--dhcp-range=${DNSMASQ_NET}.100,${DNSMASQ_NET}.250,255.255.255.0,1h`,
  ]);
  const until = Date.now() + 10_000;
  while (!/DHCP, IP range/.test(await Deno.readTextFile(log).catch(() => ""))) {
    if (Date.now() > until) throw new Error(`dnsmasq did not start (see ${log})`);
    await sleep(50);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until every segment the daemon serves has its address, then reads the map. */
async function topology(
  d: DaemonHandle,
  host0: string,
  deadline: number,
): Promise<LabSegment[]> {
  let last = "";
  for (;;) {
    if (Date.now() > deadline) {
      throw new Error(
        `mesh serve did not report both segments in time; last logs: ${
          JSON.stringify(d.logs().slice(-3))
        }; last status: ${last}`,
      );
    }
    const logs = d.logs();
    const serving = logs.some((r) => r.message === "mesh serving");
    const leased = logs.some((r) => r.message === "address leased");
    if (serving && leased) {
      const out = await new Deno.Command(meshArgv()[0]!, {
        args: [...meshArgv().slice(1), "--host0", host0, "--json", "system", "status"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      last = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      if (out.success) {
        const s = JSON.parse(new TextDecoder().decode(out.stdout)) as { segments: LabSegment[] };
        // The status holds the segments; a proxy segment's leased address is in the log.
        const served = new Map<string, string>();
        for (const r of logs) {
          const p = r.properties as { segment?: string; address?: string } | undefined;
          if (r.message === "segment served" && p?.segment && p.address) {
            served.set(p.segment, p.address);
          }
        }
        const segs = s.segments.map((x) => ({
          ...x,
          address: x.address ?? served.get(x.id) ?? null,
        }));
        const ready = segs.filter((x) => x.mode === "proxy" || x.mode === "server");
        if (ready.length >= 2 && ready.every((x) => x.address)) return segs;
      }
    }
    await sleep(200);
  }
}

/** Runs the lab; returns the exit code (0: every node online). */
export async function runLab(o: LabOptions): Promise<number> {
  const why = labUnavailable();
  if (why !== null) {
    write(`mesh: ${why}\n`);
    return 1;
  }
  const noQemu = o.qemu ? qemuSkipReason() : null;
  if (noQemu !== null) {
    write(`mesh: --qemu: ${noQemu}; run mesh lab without it for lightweight nodes\n`);
    return 2;
  }
  const started = Date.now();
  const names = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
  const switchOfNode = (i: number) => (i % 2 === 0 ? "swa" : "swb");
  let lab: LabNet | undefined;
  let creating: Promise<LabNet> | undefined;
  let interrupted = false;
  let tearing: Promise<void> | undefined;
  // Once: kills and removes everything (also a lab still being built), unless kept.
  const teardown = () =>
    tearing ??= (async () => {
      if (!lab && creating) lab = await creating.catch(() => undefined);
      if (lab && (!o.keep || interrupted)) await lab.destroy();
    })();
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    write("\nmesh lab: interrupted; removing the lab\n");
    teardown().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    creating = LabNet.create(["swa", "swb"], [
      { name: "c", ports: CENTRAL_PORTS },
      { name: "d", ports: [{ name: "eth0", switch: "swb", address: `${DNSMASQ_NET}.1/24` }] },
      // QEMU nodes are taps on the switches (made as they boot), not namespaces.
      ...(o.qemu ? [] : names.map((name, i) => ({
        name,
        ports: [{ name: "eth0", switch: switchOfNode(i) }],
      }))),
    ]);
    lab = await creating;
    write(
      `mesh lab ${lab.id}: switch A (swa) with no DHCP server, switch B (swb) with dnsmasq ` +
        `(${DNSMASQ_NET}.0/24); central node ports eth0, eth1 on A and eth2 on B; ` +
        `${o.nodes} ${o.qemu ? "QEMU " : ""}nodes; files in ${lab.dir}\n`,
    );
    await startDnsmasq(lab);
    const state = `${lab.dir}/state`;
    await writeHost0(lab.dir, state, o.qemu);
    const script = `${lab.dir}/udhcpc.sh`;
    await Deno.writeTextFile(script, UDHCPC_SCRIPT, { mode: 0o755 });
    await Deno.chmod(script, 0o755);
    const d = startDaemon(lab, `${lab.dir}/host0`);
    const deadline = started + o.timeout * 1000;
    const segments = await Promise.race([
      topology(d, `${lab.dir}/host0`, Math.min(deadline, Date.now() + 60_000)),
      d.child.status.then((s) => {
        const log = Deno.readTextFileSync(d.log).trim().split("\n").slice(-3).join("\n");
        throw new Error(`mesh serve exited (${s.code}):\n${log}`);
      }),
    ]);
    const portSwitch = (i: string) => CENTRAL_PORTS.find((p) => p.name === i)?.switch ?? "?";
    write(topologyText(segments, portSwitch));
    const meshOn = (sw: string) =>
      segments.find((s) => s.interfaces.some((i) => portSwitch(i) === sw))?.address?.split(
        "/",
      )[0] ?? "";

    const nodes: NodeState[] = names.map((name, i) => ({
      name,
      switch: switchOfNode(i) === "swa" ? "A" : "B",
      mac: "",
      ip: "",
      id: "",
      stage: "waiting",
      times: {},
      startedAt: 0,
      error: "",
      done: false,
      via: "",
      proxyOffers: [],
    }));
    const bootStart = Date.now();
    const view = new LiveView(nodes, bootStart);
    const vm = (i: number): QemuNodeSpec => ({
      // (MAC and UUID end in the node number)
      // n1 BIOS on A, n2 UEFI on B, n3 UEFI on A, n4 BIOS on B, ...
      firmware: Math.floor(i / 2) % 2 === (i % 2) ? "bios" : "uefi",
      mac: `52:54:00:7a:${hex2((i + 1) >> 8)}:${hex2((i + 1) & 0xff)}`,
      uuid: `6d657368-6c61-4000-8000-5254007a${hex2((i + 1) >> 8)}${hex2((i + 1) & 0xff)}`,
      bridge: switchOfNode(i),
    });
    write(
      o.qemu
        ? `booting ${o.nodes} QEMU VMs (${
          names.map((n, i) => `${n} ${vm(i).firmware === "bios" ? "SeaBIOS" : "OVMF"}`).join(", ")
        }; serial consoles in ${lab.dir}/<node>.serial):\n`
        : `booting ${o.nodes} lightweight nodes (real udhcpc, tftp and curl in namespaces):\n`,
    );
    const tty = Deno.stdout.isTerminal();
    const redraw = setInterval(() => view.update(), 250);
    const queue = [...nodes.keys()];
    const worker = async () => {
      for (let i = queue.shift(); i !== undefined && !interrupted; i = queue.shift()) {
        const n = nodes[i]!;
        if (o.qemu) {
          await bootQemuNode(n, vm(i), {
            lab: lab!,
            timeoutMs: Math.max(1000, deadline - Date.now()),
            changed: () => {
              if (!tty) view.update();
            },
          });
          continue;
        }
        await bootLightNode(n, {
          lab: lab!,
          script,
          meshAddress: meshOn(switchOfNode(i)),
          changed: () => {
            if (!tty) view.update();
          },
        });
      }
    };
    const all = Promise.all(
      Array.from({ length: Math.min(o.parallel ?? 12, nodes.length) }, worker),
    );
    const timedOut = await Promise.race([
      all.then(() => false),
      sleep(Math.max(0, deadline - Date.now())).then(() => true),
    ]);
    clearInterval(redraw);
    if (interrupted) return 130;
    view.update();
    const last = Math.max(...nodes.map((n) => n.startedAt + (n.times.online ?? 0)));
    const allOnline = nodes.every((n) => n.stage === "online");
    if (timedOut && !allOnline) write(`timeout: ${o.timeout} s passed\n`);
    write(summaryText(nodes, (allOnline ? last : Date.now()) - started));
    if (o.keep) {
      lab.keep();
      write(
        `\n--keep: the lab stays up. Reach it with\n` +
          `  ip netns exec ${lab.ns("n1")} curl http://${
            meshOn("swa")
          }/          (status page from a node)\n` +
          `  ${meshArgv().join(" ")} --host0 ${lab.dir}/host0 system status\n` +
          `  ip netns list | grep ${lab.id}\n` +
          `Remove it with\n  ${meshArgv().join(" ")} lab --clean ${lab.id}\n`,
      );
    }
    return interrupted ? 130 : allOnline ? 0 : 1;
  } catch (e) {
    if (!interrupted) write(`mesh lab: ${e instanceof Error ? e.message : String(e)}\n`);
    return interrupted ? 130 : 1;
  } finally {
    await teardown();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** `mesh lab --clean <id>`: removes a kept lab. */
export async function cleanLab(id: string): Promise<number> {
  if (!/^mlab\d+x\d+$/.test(id)) {
    write(`mesh: "${id}" is not a lab id (mlab<pid>x<n>)\n`);
    return 2;
  }
  const removed = await removeLab(id);
  write(
    removed.length
      ? removed.map((r) => `removed ${r}`).join("\n") + "\n"
      : `nothing of ${id} left\n`,
  );
  return 0;
}
