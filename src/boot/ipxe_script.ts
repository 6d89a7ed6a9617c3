/**
 * @module
 * The per-node iPXE boot script (pure template). Every value that reaches the
 * script is sanitised, because part of it comes from query parameters and
 * /host0 files, and iPXE would otherwise expand `${...}`, run `||`/`&&` chains
 * or start a new command after a newline.
 */

/** What a boot script needs; URLs are absolute (base + path). */
export interface BootScriptSpec {
  /** Node id (8 hex) or null when the requester could not be identified. */
  readonly nodeId: string | null;
  /** Machine folder under /host0/machines, or "default". */
  readonly machine: string;
  /** Base URL of the HTTP server, e.g. "http://10.11.0.1" (no trailing slash). */
  readonly base: string;
  readonly kernelPath: string;
  readonly initrdPath: string;
  readonly modloopPath: string;
  /**
   * The repository's URL path; several separated by commas (the Alpine
   * initramfs writes each to /etc/apk/repositories), e.g. main and community.
   */
  readonly repoPath: string;
  /** Per-machine kernel arguments (from /host0). */
  readonly machineCmdline?: string;
  /** Global extra kernel arguments (from mesh.yaml). */
  readonly extraCmdline?: string;
}

/**
 * Removes what iPXE would interpret: control characters (a newline starts a
 * new command), `$` (setting expansion), `|`/`&` (command chaining), `\`,
 * quotes and `#`. Runs of whitespace collapse to one space.
 */
export function ipxeSafe(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f$|&\\"'#`]/g, " ").replace(/\s+/g, " ").trim();
}

/** A URL or path made safe for a script line (spaces would split arguments). */
function safeWord(text: string): string {
  return ipxeSafe(text).replaceAll(" ", "%20");
}

/** Last path component, for `initrd=<name>` (UEFI kernels look the initrd up by name). */
function baseName(path: string): string {
  const parts = path.split("/").filter((p) => p.length > 0);
  return parts[parts.length - 1] ?? "initrd";
}

/**
 * The apkovl file name for a node: its id, or the Alpine `{MAC}` placeholder
 * (substituted by the initramfs) when the node is not identified yet, so the
 * server can still pick the overlay by MAC.
 */
function apkovlName(nodeId: string | null): string {
  return nodeId !== null && /^[0-9a-f]{8}$/.test(nodeId) ? nodeId : "{MAC}";
}

/** The kernel command line (without `initrd=`). */
export function bootCmdline(spec: BootScriptSpec): string {
  const base = safeWord(spec.base.replace(/\/+$/, ""));
  const parts = [
    "ip=dhcp",
    "BOOTIF=01-${mac:hexhyp}",
    `alpine_repo=${spec.repoPath.split(",").map((p) => `${base}${safeWord(p)}`).join(",")}`,
    `modloop=${base}${safeWord(spec.modloopPath)}`,
    `apkovl=${base}/apkovl/${apkovlName(spec.nodeId)}.tar.gz`,
    "modules=loop,squashfs",
    "quiet",
  ];
  const machine = ipxeSafe(spec.machineCmdline ?? "");
  if (machine !== "") parts.push(machine);
  const extra = ipxeSafe(spec.extraCmdline ?? "");
  if (extra !== "") parts.push(extra);
  return parts.join(" ");
}

/** Renders the whole script. Deterministic: same spec, same bytes. */
export function renderBootScript(spec: BootScriptSpec): string {
  const base = safeWord(spec.base.replace(/\/+$/, ""));
  const initrd = safeWord(spec.initrdPath);
  const id = spec.nodeId !== null && /^[0-9a-f]{8}$/.test(spec.nodeId) ? spec.nodeId : "unknown";
  const machine = ipxeSafe(spec.machine).replaceAll(" ", "_") || "default";
  return [
    "#!ipxe",
    `# mesh node ${id} machine ${machine}`,
    `kernel ${base}${safeWord(spec.kernelPath)} initrd=${baseName(initrd)} ${bootCmdline(spec)}`,
    `initrd ${base}${initrd}`,
    "boot",
    "",
  ].join("\n");
}
