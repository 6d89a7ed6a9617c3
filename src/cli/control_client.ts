/**
 * @module
 * The CLI side of the control socket, and the commands that need the running
 * daemon: `mesh system reload` (what SIGHUP does) and `mesh net rescan`.
 * A command that needs the daemon while it is down says so in one line (exit 1).
 */
import { parse as parseYaml } from "yaml";
import { type ControlReply, controlSocketPath } from "../daemon/mod.ts";
import { emit, type GlobalOptions, host0Dir, stateDir } from "./context.ts";

/** The daemon is not running (or not answering): commands that need it exit 1 with this. */
export class DaemonDownError extends Error {
  override name = "DaemonDownError";
}

/** Where the daemon of this state directory listens (control.socket in mesh.yaml wins). */
export function socketPath(opts: GlobalOptions): string {
  let configured: string | undefined;
  const root = host0Dir(opts);
  try {
    const doc = parseYaml(Deno.readTextFileSync(`${root}/mesh.yaml`)) as
      | { control?: { socket?: unknown } }
      | null;
    const s = doc?.control?.socket;
    if (typeof s === "string" && s !== "") configured = s.startsWith("/") ? s : `${root}/${s}`;
  } catch { /* no mesh.yaml, or a broken one: the default rule */ }
  return controlSocketPath(stateDir(opts), configured);
}

/**
 * Sends one request and returns the reply. Throws DaemonDownError when no
 * daemon listens, and a one-line Error when the socket refuses us (not root).
 */
export async function controlRequest(
  opts: GlobalOptions,
  req: Record<string, unknown>,
  timeoutMs = 60_000,
): Promise<ControlReply> {
  const path = socketPath(opts);
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`permission denied on the control socket ${path}: it is for root only`);
    }
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
      throw new DaemonDownError(`the daemon is not running (no control socket at ${path})`);
    }
    throw new Error(`cannot reach the daemon at ${path}: ${(e as Error).message}`);
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(req) + "\n"));
    let text = "";
    const dec = new TextDecoder();
    const buf = new Uint8Array(4096);
    while (!text.includes("\n")) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n), { stream: true });
    }
    if (!text.includes("\n")) {
      throw new Error(`the daemon did not answer on ${path} within ${timeoutMs / 1000} s`);
    }
    return JSON.parse(text.slice(0, text.indexOf("\n"))) as ControlReply;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** Throws the daemon's error as one line; returns the reply otherwise. */
async function mustSucceed(opts: GlobalOptions, req: Record<string, unknown>) {
  const r = await controlRequest(opts, req);
  if (!r.ok) throw new Error(`daemon: ${r.error}`);
  return r;
}

/** `mesh system reload`: reload /host0 and recompile the overlays, as SIGHUP does. */
export async function systemReload(opts: GlobalOptions): Promise<number> {
  const r = await mustSucceed(opts, { op: "reload" });
  emit(opts, r, () => "reloaded /host0; overlays recompiled\n");
  return 0;
}

/** `mesh net rescan`: the daemon scans every port again and applies the result. */
export async function netRescan(opts: GlobalOptions): Promise<number> {
  const r = await mustSucceed(opts, { op: "rescan" });
  emit(opts, r, () => "rescanned; see mesh net show\n");
  return 0;
}
