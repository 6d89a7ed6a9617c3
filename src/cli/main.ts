/**
 * @module
 * The `mesh` command line: parses arguments with commander, runs one command,
 * maps failures to exit codes (0 ok, 1 runtime failure, 2 usage or config
 * error) and prints errors as one clear line (stack only with --debug).
 */
import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import denoJson from "../../deno.json" with { type: "json" };
import { ConfigError, formatIssue, NotFoundError, StateLockedError } from "../errors.ts";
import { setupLogging } from "../log.ts";
import { bashCompletion, type CommandSpec, fishCompletion, zshCompletion } from "./completions.ts";
import { configCheck, systemConfigure } from "./config_cmds.ts";
import { type GlobalOptions, out } from "./context.ts";
import { netDhcpProbe, wholeNumber } from "./dhcp_probe_cmd.ts";
import { archList, branchArg, mirrorStatusCmd, systemDownload } from "./mirror_cmds.ts";
import { netScan, netShow } from "./net_cmds.ts";
import { dhcpLeases, nodeInfo, nodeList } from "./node_cmds.ts";
import { nodeForget } from "./node_forget.ts";
import { netRescan, systemReload } from "./control_client.ts";
import { events } from "./events_cmd.ts";
import { labCommand } from "./lab_cmd.ts";
import { nodeCtl } from "./node_ctl.ts";
import { serveCommand } from "./serve_cmd.ts";
import { systemStatus } from "./status_cmd.ts";
import { workloadList, workloadStart, workloadStatus, workloadStop } from "./workload_cmds.ts";

/** The version printed by `mesh --version`. */
export const VERSION: string = denoJson.version;

/** Thrown by commands for a wrong invocation that commander cannot see. */
export class UsageError extends Error {
  override name = "UsageError";
}

type Runner = (globals: GlobalOptions) => Promise<number> | number;

/** Builds the command tree. `run` receives each command's work. */
export function buildProgram(run: (r: Runner, cmd: Command) => void): Command {
  const program = new Command()
    .name("mesh")
    .description(
      "Central node of a PXE-booted Alpine cluster: DHCP, TFTP, HTTP and per-node overlays.",
    )
    .version(VERSION, "-V, --version")
    .option("--host0 <dir>", "the /host0 directory (env MESH_HOST0)")
    .option(
      "--state <dir>",
      "state directory (default: mesh.yaml state_dir or <host0>/state; env MESH_STATE)",
    )
    .option("--json", "print data as JSON")
    .option("-v, --verbose", "info logs on stderr (a command prints only warnings by default)")
    .option("--debug", "debug logs and stack traces")
    .addOption(
      new Option(
        "--log-format <format>",
        "log format (default: pretty on a TTY, JSON lines otherwise)",
      ).choices(["pretty", "json"] as const),
    )
    .showHelpAfterError("(run with --help for usage)");
  program.exitOverride();

  const on = (cmd: Command, r: Runner) => run(r, cmd);

  const serve = program.command("serve").description(
    "run the daemon in the foreground: DHCP, TFTP and HTTP (SIGHUP reloads /host0)",
  );
  on(serve as unknown as Command, (g) => serveCommand(g));

  const config = program.command("config").description("validate /host0");
  const check = config.command("check").description(
    "validate mesh.yaml, machines, groups, manifests and packages; report every problem as file:line",
  );
  on(check as unknown as Command, (g) => configCheck(g));

  const system = program.command("system").description("central node operations");
  const configure = system.command("configure").description(
    "compile /host0 into per-node APKOVLs (<state>/apkovl)",
  );
  on(configure as unknown as Command, (g) => systemConfigure(g));
  const status = system.command("status").description(
    "every segment: mode and why, subnet, our address, DHCP servers seen; and the services",
  );
  on(status as unknown as Command, (g) => systemStatus(g));
  const reload = system.command("reload").description(
    "reload /host0 and recompile the overlays in the running daemon (same as SIGHUP)",
  );
  on(reload as unknown as Command, (g) => systemReload(g));
  const start = system.command("start").description("same as mesh serve");
  on(start as unknown as Command, (g) => serveCommand(g));
  const download = system.command("download").description(
    "fill the offline Alpine mirror: verified indexes, the packages /host0 needs, netboot files",
  )
    .option(
      "--from <url|dir>",
      "upstream mirror URL or local mirror tree (default: mirror.upstream)",
    )
    .option("--branch <branch>", "Alpine branch (default: boot.alpine_branch)", branchArg)
    .option(
      "--arch <list>",
      "architectures, comma-separated (default: x86_64, and aarch64 when boot.efi_arm64 is set)",
      archList,
    )
    .option("--parallel <n>", "downloads at once (default 8)", wholeNumber(1));
  on(download as unknown as Command, (g) => systemDownload(g, download.opts()));

  const mirror = program.command("mirror").description("the offline Alpine package mirror");
  const mstatus = mirror.command("status").description(
    "branch, arches, packages, size, missing and stale files, last download, machines satisfied",
  )
    .option("--branch <branch>", "Alpine branch (default: boot.alpine_branch)", branchArg);
  on(mstatus as unknown as Command, (g) => mirrorStatusCmd(g, mstatus.opts()));

  const node = program.command("node").description("nodes seen by this central node");
  const list = node.command("list").description("every node with its boot stage");
  on(list as unknown as Command, (g) => nodeList(g));
  const info = node.command("info").description(
    "one node: identity, stage times of the current boot, recent events",
  )
    .requiredOption("-n, --node <id>", "node id (8 hex characters) or MAC");
  on(info as unknown as Command, (g) => nodeInfo(g, (info.opts() as { node: string }).node));
  const forget = node.command("forget").description(
    "remove a node and its history, so its id can bind to a new MAC",
  )
    .requiredOption("-n, --node <id>", "node id (8 hex characters) or MAC");
  on(
    forget as unknown as Command,
    (g) => nodeForget(g, (forget.opts() as { node: string }).node),
  );

  const ctl = node.command("ctl").description(
    "run a shell command as root on nodes over SSH (at their lease addresses); exit with its status",
  )
    .requiredOption("-n, --node <spec>", "node id, MAC or machine; a comma list, all, group:<name>")
    .option("--timeout <s>", "stop a command still running after this many seconds", wholeNumber(1))
    .argument("<command>", "the shell command");
  on(
    ctl as unknown as Command,
    (g) =>
      nodeCtl(g, (ctl.opts() as { node: string }).node, ctl.args[0]!, {
        ...((ctl.opts() as { timeout?: number }).timeout !== undefined
          ? { timeout: (ctl.opts() as { timeout: number }).timeout }
          : {}),
      }),
  );

  const workload = program.command("workload").description(
    "KVM VMs from <host0>/workloads/<name>.conf on nodes (over SSH, like node ctl)",
  );
  const wlist = workload.command("list").description(
    "every workload file, with its node and state as last recorded",
  );
  on(wlist as unknown as Command, (g) => workloadList(g));
  const wlNode =
    "node id, MAC or machine (start: default the online node with the most free memory)";
  for (
    const [verb, about, run] of [
      ["start", "start a workload on a node (fetching its volumes there)", workloadStart],
      ["stop", "power a workload off (QMP powerdown, then SIGTERM, then SIGKILL)", workloadStop],
      ["status", "ask the node: running, stopped or failed, pid, memory, uptime", workloadStatus],
    ] as const
  ) {
    const c = workload.command(verb).description(about)
      .requiredOption("-w, --workload <name>", "the workload (its name= key)")
      .option("-n, --node <id>", wlNode);
    if (verb === "start") c.option("--tcg", "emulate the CPU (no KVM needed; slow)");
    if (verb !== "status") {
      c.option(
        "--timeout <s>",
        "start: 600 s (downloads); stop: 30 s for the guest",
        wholeNumber(1),
      );
    }
    on(c as unknown as Command, (g) => run(g, c.opts() as Parameters<typeof run>[1]));
  }

  const evs = program.command("events").description(
    "boot steps of nodes and changes of the network, from the state database",
  )
    .option("-f, --follow", "keep printing new events as they happen")
    .option("-n, --node <id>", "only this node's events (id or MAC)")
    .option("--limit <n>", "how many recent events to print first (default 50)", wholeNumber(0));
  on(evs as unknown as Command, (g) => events(g, evs.opts()));

  const net = program.command("net").description("the network as mesh finds it");
  const scan = net.command("scan").description(
    "scan every port with ARP now: which ports share a switch, neighbours, planned subnets",
  );
  on(scan as unknown as Command, (g) => netScan(g));
  const show = net.command("show").description("the network map the daemon works from");
  on(show as unknown as Command, (g) => netShow(g));
  const rescan = net.command("rescan").description(
    "make the running daemon scan every port again and apply what it finds",
  );
  on(rescan as unknown as Command, (g) => netRescan(g));
  const probe = net.command("dhcp-probe").description(
    "broadcast DHCPDISCOVERs on IFACE and list the DHCP servers that offer (no lease is taken)",
  )
    .argument("<iface>", "the interface to probe")
    .option("--span-ms <ms>", "how long to listen (default 6000)", wholeNumber(0))
    .option("--attempts <n>", "DISCOVERs sent over the span (default 3)", wholeNumber(1));
  on(probe as unknown as Command, (g) => netDhcpProbe(g, probe.args[0]!, probe.opts()));

  const dhcp = program.command("dhcp").description("DHCP server state");
  const leases = dhcp.command("leases").description("DHCP leases (bound ones unless --all)")
    .option("--all", "include released, expired and declined addresses");
  on(
    leases as unknown as Command,
    (g) => dhcpLeases(g, Boolean((leases.opts() as { all?: boolean }).all)),
  );

  const lab = program.command("lab").description(
    "a whole virtual cluster on this machine: two switches (one with dnsmasq), mesh serve in auto, N nodes booting (root)",
  )
    .option("--nodes <n>", "nodes to boot (default 6; 2 with --qemu)", wholeNumber(1))
    .option("--qemu", "boot QEMU VMs (SeaBIOS and OVMF) instead of lightweight nodes")
    .option("--keep", "leave the lab up at the end and print how to reach and remove it")
    .option("--timeout <s>", "seconds for every node to come online (default 120)", wholeNumber(1))
    .option("--parallel <n>", "nodes booting at once (default 12)", wholeNumber(1))
    .option("--clean <id>", "remove a lab left up by --keep (its id, mlab<pid>x0)");
  on(lab as unknown as Command, () => labCommand(lab.opts()));

  const completions = program.command("completions").description("print a shell completion script")
    .argument("<shell>", "bash, zsh or fish");
  on(completions as unknown as Command, () => {
    const shell = completions.args[0];
    const spec = commandSpec(program);
    if (shell === "bash") out(bashCompletion(spec));
    else if (shell === "zsh") out(zshCompletion(spec));
    else if (shell === "fish") out(fishCompletion(spec));
    else throw new UsageError(`unknown shell "${shell}": expected bash, zsh or fish`);
    return 0;
  });

  return program;
}

/** The command tree as completions need it. */
function commandSpec(cmd: Command): CommandSpec {
  return {
    name: cmd.name(),
    options: cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))),
    commands: (cmd.commands as unknown as Command[]).map(commandSpec),
  };
}

function errLine(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
}

/** Maps an error to its exit code and prints it. */
export function reportError(e: unknown, globals: GlobalOptions): number {
  if (e instanceof ConfigError) {
    if (globals.json) {
      out(
        JSON.stringify(
          { ok: false, issues: e.issues.map((i) => ({ ...i, text: formatIssue(i) })) },
          null,
          2,
        ) + "\n",
      );
    }
    for (const issue of e.issues) errLine(`mesh: ${formatIssue(issue)}`);
    if (e.issues.length > 1) errLine(`mesh: ${e.issues.length} problems; nothing was changed`);
    return 2;
  }
  if (e instanceof UsageError || e instanceof StateLockedError) {
    errLine(`mesh: ${e.message}`);
    return 2;
  }
  if (e instanceof NotFoundError) {
    errLine(`mesh: ${e.message}`);
    return 1;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  errLine(`mesh: ${err.message}`);
  if (globals.debug && err.stack) errLine(err.stack);
  return 1;
}

/** Runs the CLI with `args` (without the program name); returns the exit code. */
export async function main(args: readonly string[]): Promise<number> {
  let pending: { r: Runner; cmd: Command } | null = null;
  const program = buildProgram((r, cmd) => {
    cmd.action(() => {
      pending = { r, cmd };
    });
  });
  try {
    await program.parseAsync(args as string[], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end here with exitCode 0; usage errors with 1 → 2.
      return e.exitCode === 0 ? 0 : 2;
    }
    throw e;
  }
  if (pending === null) {
    program.outputHelp();
    return 2;
  }
  const { r, cmd } = pending as { r: Runner; cmd: Command };
  // What mesh writes (overlays, the database) can carry node secrets.
  Deno.umask(0o077);
  const globals = cmd.optsWithGlobals() as GlobalOptions;
  // A short-lived command says what it did on stdout; its logs (stderr) are
  // warnings unless asked for. The daemon sets its own logging (stdout, info).
  setupLogging({
    level: globals.debug ? "debug" : globals.verbose ? "info" : "warning",
    to: "stderr",
    ...(globals.logFormat ? { format: globals.logFormat } : {}),
  });
  try {
    return await r(globals);
  } catch (e) {
    return reportError(e, globals);
  }
}
