/**
 * @module
 * The control socket's protocol, shared by the daemon and the CLI: where the
 * socket lives, and strict validation of a request. One JSON object per line
 * each way: `{"op": "reload"}`, `{"op": "rescan"}`, `{"op": "forget",
 * "node": "<id|mac>"}`, `{"op": "ping"}` → `{"ok": true, ...}` or
 * `{"ok": false, "error": "..."}`. Pure: no Deno.*.
 */

/** Longest request line accepted; a longer one is answered with an error and the connection closed. */
export const MAX_REQUEST_BYTES = 4096;

/** The state directory of a stock install, whose socket goes to /run (tmpfs, cleared on boot). */
export const DEFAULT_STATE_DIR = "/host0/state";

/**
 * The socket path: `control.socket` from mesh.yaml when set, `/run/mesh/mesh.sock`
 * for the default state directory, else `<state>/mesh.sock` — so several
 * daemons (tests, the lab) never share a socket, as they never share a state directory.
 */
export function controlSocketPath(stateDir: string, configured?: string): string {
  if (configured !== undefined && configured !== "") return configured;
  const dir = stateDir.replace(/\/+$/, "");
  return dir === DEFAULT_STATE_DIR ? "/run/mesh/mesh.sock" : `${dir}/mesh.sock`;
}

/** A valid request. */
export type ControlRequest =
  | { readonly op: "ping" }
  | { readonly op: "reload" }
  | { readonly op: "rescan" }
  | { readonly op: "forget"; readonly node: string };

/** The reply to one request. */
export type ControlReply = { ok: true; [key: string]: unknown } | { ok: false; error: string };

const NODE_REF = /^([0-9a-f]{8}|[0-9a-f]{2}(:[0-9a-f]{2}){5})$/i;

/** Parses one request line; a string is the error to send back. */
export function parseRequest(line: string): ControlRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return "request is not JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    return "request must be a JSON object";
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  switch (o.op) {
    case "ping":
    case "reload":
    case "rescan": {
      const extra = keys.filter((k) => k !== "op");
      if (extra.length > 0) return `unexpected field "${extra[0]}" for op ${o.op}`;
      return { op: o.op };
    }
    case "forget": {
      const extra = keys.filter((k) => k !== "op" && k !== "node");
      if (extra.length > 0) return `unexpected field "${extra[0]}" for op forget`;
      if (typeof o.node !== "string" || !NODE_REF.test(o.node)) {
        return 'forget needs "node": an 8-hex node id or a colon MAC';
      }
      return { op: "forget", node: o.node.toLowerCase() };
    }
    default:
      return typeof o.op === "string"
        ? `unknown op "${o.op.slice(0, 40)}" (expected ping, reload, rescan or forget)`
        : 'request needs "op" (ping, reload, rescan or forget)';
  }
}
