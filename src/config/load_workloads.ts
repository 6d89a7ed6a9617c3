/**
 * @module
 * Reads `<host0>/workloads/*.conf` and checks what one file cannot see: the
 * name matches the file name, names and uuids are unique across files, and
 * every mesh a NIC attaches to is defined in `network/*.conf` (its bridge on a
 * node is `br<vni>`).
 */
import type { ConfigIssue } from "../errors.ts";
import { parseWorkloadConf } from "./parse_workload.ts";
import { joinPath } from "./paths.ts";
import { hint } from "./suggest.ts";
import type { Network, Workload } from "./types.ts";

/** The bridge a mesh's NICs plug into on a node (the mesh script names it so). */
export function meshBridge(network: Pick<Network, "vni">): string {
  return `br${network.vni}`;
}

/** Cross-file checks over parsed workloads (pure); returns the good ones, sorted by name. */
export function checkWorkloads(
  parsed: readonly { readonly base: string; readonly workload: Workload }[],
  networks: readonly Network[],
  issues: ConfigIssue[],
): Workload[] {
  const byName = new Map<string, Workload>();
  const byUuid = new Map<string, Workload>();
  const out: Workload[] = [];
  const meshes = networks.map((n) => n.name);
  for (const { base, workload: w } of parsed) {
    const before = issues.length;
    if (w.name !== base) {
      issues.push({
        file: w.file,
        ...(w.at.name ? { line: w.at.name } : {}),
        message: `name "${w.name}" must match the file name (${base}.conf)`,
      });
    }
    const clash = byName.get(w.name);
    if (clash) {
      issues.push({
        file: w.file,
        ...(w.at.name ? { line: w.at.name } : {}),
        message: `workload name ${w.name} is also used by ${clash.file}`,
      });
    }
    const twin = byUuid.get(w.uuid);
    if (twin) {
      issues.push({
        file: w.file,
        ...(w.at.uuid ? { line: w.at.uuid } : {}),
        message: `uuid ${w.uuid} is also used by ${twin.file}`,
      });
    }
    for (const nic of w.networks) {
      const line = w.at.mesh?.[nic.id];
      const where = { file: w.file, ...(line ? { line } : {}) };
      const net = networks.find((n) => n.name === nic.mesh);
      if (!net) {
        issues.push({
          ...where,
          message: `no mesh "${nic.mesh}" in network/*.conf${hint(nic.mesh, meshes)}`,
        });
      }
    }
    if (!clash) byName.set(w.name, w);
    if (!twin) byUuid.set(w.uuid, w);
    if (issues.length === before) out.push(w);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Loads every workload file under `<dir>/workloads/` (none when the folder
 * is absent), problems appended to `issues`.
 */
export async function loadWorkloads(
  dir: string,
  networks: readonly Network[],
  issues: ConfigIssue[],
): Promise<Workload[]> {
  const folder = joinPath(dir, "workloads");
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(folder)) {
      if (e.isFile && e.name.endsWith(".conf") && !e.name.startsWith(".")) names.push(e.name);
    }
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    issues.push({ file: folder, message: `cannot read: ${(e as Error).message}` });
    return [];
  }
  names.sort();
  const parsed: { base: string; workload: Workload }[] = [];
  for (const name of names) {
    const file = joinPath(folder, name);
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      issues.push({ file, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const r = parseWorkloadConf(text, file);
    issues.push(...r.issues);
    if (r.value !== null) parsed.push({ base: name.slice(0, -".conf".length), workload: r.value });
  }
  return checkWorkloads(parsed, networks, issues);
}
