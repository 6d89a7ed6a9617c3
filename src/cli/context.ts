/**
 * @module
 * What every command needs: where /host0 and the state directory are, and how
 * to print data (table or --json).
 */
import { parse as parseYaml } from "yaml";

/** Global options every command inherits. */
export interface GlobalOptions {
  host0?: string;
  state?: string;
  json?: boolean;
  debug?: boolean;
  verbose?: boolean;
  logFormat?: "pretty" | "json";
}

/** The /host0 directory: --host0, then $MESH_HOST0, then /host0. */
export function host0Dir(opts: GlobalOptions): string {
  return opts.host0 ?? Deno.env.get("MESH_HOST0") ?? "/host0";
}

/**
 * The state directory without validating all of /host0 (so `mesh node list`
 * still works while someone is halfway through editing mesh.yaml): --state,
 * then $MESH_STATE, then mesh.yaml's state_dir if it reads, then <host0>/state.
 */
export function stateDir(opts: GlobalOptions): string {
  const explicit = opts.state ?? Deno.env.get("MESH_STATE");
  if (explicit) return explicit;
  const root = host0Dir(opts);
  try {
    const doc = parseYaml(Deno.readTextFileSync(`${root}/mesh.yaml`)) as
      | { state_dir?: unknown }
      | null;
    if (doc && typeof doc.state_dir === "string" && doc.state_dir !== "") {
      return doc.state_dir.startsWith("/") ? doc.state_dir : `${root}/${doc.state_dir}`;
    }
  } catch { /* fall back to the default */ }
  return `${root}/state`;
}

/**
 * Writes text to stdout, all of it (a pipe takes a large table in parts). A
 * reader that went away (`mesh node list | head -3`) ends the CLI quietly
 * with status 0, as there is no one left to tell.
 */
export function out(text: string): void {
  let bytes = new TextEncoder().encode(text);
  try {
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) Deno.exit(0);
    throw e;
  }
}

/** Prints `data` as pretty JSON, or `table()` when --json is not set. */
export function emit(opts: GlobalOptions, data: unknown, table: () => string): void {
  out(opts.json ? JSON.stringify(data, null, 2) + "\n" : table());
}
