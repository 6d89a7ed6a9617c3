/**
 * @module
 * The daemon's control socket: a Unix stream socket through which the CLI
 * asks for what changes the running daemon's state (reload, rescan, forget a
 * node). Access is by file mode: the socket is 0600 in a 0700 directory, both
 * owned by the daemon's user, so only that user and root can connect. (Deno
 * does not expose SO_PEERCRED on a Unix connection, so the peer's uid is not
 * checked a second time; the kernel's path permission check is the guard.)
 * Every request is validated strictly; a bad one gets an error reply and the
 * daemon goes on.
 */
import { getLogger } from "@logtape/logtape";
import {
  type ControlReply,
  type ControlRequest,
  MAX_REQUEST_BYTES,
  parseRequest,
} from "./control_protocol.ts";

const log = getLogger(["mesh", "control"]);

/** What the daemon does for each request. */
export interface ControlHandlers {
  /** Reloads /host0; resolves with the refusal (file:line problems) or null. */
  reload(): Promise<string | null>;
  rescan(): Promise<void>;
  /** Forgets a node; null when none has that id or MAC. */
  forget(node: string): { id: string; mac: string | null } | null;
}

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** True when a daemon answers on `path` (a socket left by a dead one does not). */
async function answers(path: string): Promise<boolean> {
  try {
    const c = await Deno.connect({ transport: "unix", path });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** Listens on `path`; throws when another daemon already answers there. */
export async function startControlServer(
  path: string,
  handlers: ControlHandlers,
): Promise<ControlServer> {
  const dir = parentOf(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  if (await answers(path)) {
    throw new Error(`control socket ${path} is in use by another mesh daemon`);
  }
  await Deno.remove(path).catch(() => {}); // left by a daemon that died
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  const conns = new Set<Deno.UnixConn>();
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        void serveConn(conn, handlers).finally(() => conns.delete(conn));
      }
    } catch { /* listener closed */ }
  })();
  log.info("control socket listening", { path });
  return {
    path,
    async close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
      await Deno.remove(path).catch(() => {});
    },
  };
}

async function serveConn(conn: Deno.UnixConn, handlers: ControlHandlers): Promise<void> {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const reply = async (r: ControlReply) => {
    const bytes = enc.encode(JSON.stringify(r) + "\n");
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  };
  let pending = "";
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      pending += dec.decode(buf.subarray(0, n), { stream: true });
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line !== "") await reply(await answer(line, handlers));
      }
      if (pending.length > MAX_REQUEST_BYTES) {
        await reply({ ok: false, error: `request longer than ${MAX_REQUEST_BYTES} bytes` });
        return;
      }
    }
  } catch (e) {
    log.debug("control connection ended", { error: String(e) });
  } finally {
    try {
      conn.close();
    } catch { /* closed by close() */ }
  }
}

async function answer(line: string, handlers: ControlHandlers): Promise<ControlReply> {
  const req = parseRequest(line);
  if (typeof req === "string") return { ok: false, error: req };
  try {
    return await run(req, handlers);
  } catch (e) {
    // A failing handler is an answer too: the daemon serves on.
    log.error("control request failed", { op: req.op, error: String(e) });
    return { ok: false, error: `${req.op} failed: ${(e as Error).message ?? String(e)}` };
  }
}

async function run(req: ControlRequest, handlers: ControlHandlers): Promise<ControlReply> {
  log.info("control request", { ...req });
  switch (req.op) {
    case "ping":
      return { ok: true, pid: Deno.pid };
    case "reload": {
      const refused = await handlers.reload();
      return refused === null ? { ok: true } : { ok: false, error: refused };
    }
    case "rescan":
      await handlers.rescan();
      return { ok: true };
    case "forget": {
      const node = handlers.forget(req.node);
      return node === null
        ? { ok: false, error: `no node with id or MAC "${req.node}"` }
        : { ok: true, forgotten: node.id, mac: node.mac };
    }
  }
}
