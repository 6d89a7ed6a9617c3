/**
 * Helpers shared by the TFTP lab tests: start our server in a namespace and
 * read its JSON lines, checksum files.
 */
import type { Lab } from "../lib/netns.ts";

export interface RunningServer {
  readonly port: number;
  /** Transfer events printed so far. */
  readonly transfers: Record<string, unknown>[];
  /** Resolves when a transfer event matching `pred` arrives (or null after ms). */
  waitFor(
    pred: (t: Record<string, unknown>) => boolean,
    ms: number,
  ): Promise<Record<string, unknown> | null>;
}

const FIXTURE = new URL("./serve_fixture.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

/** Starts tests/tftp/serve_fixture.ts inside `host` and waits for its port line. */
export async function startOurServer(
  lab: Lab,
  host: string,
  args: {
    root: string;
    hostname: string;
    port?: number;
    timeoutMs?: number;
    perClient?: number;
    honorClientTimeout?: boolean;
    /** Retransmissions without progress before a transfer is given up (server default 5). */
    retries?: number;
  },
): Promise<RunningServer> {
  const child = lab.spawn(host, [
    Deno.execPath(),
    "run",
    "-A",
    "--config",
    CONFIG,
    FIXTURE,
    args.root,
    args.hostname,
    String(args.port ?? 69),
    String(args.timeoutMs ?? 1000),
    String(args.perClient ?? 32),
    String(args.honorClientTimeout ?? true),
    String(args.retries ?? 5),
  ], { stdout: "piped", stderr: "inherit" });
  const transfers: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let resolvePort: (p: number) => void = () => {};
  const portP = new Promise<number>((r) => resolvePort = r);
  (async () => {
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    let buf = "";
    for await (const chunk of lines) {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line);
          if (typeof j.port === "number" && j.event === undefined) resolvePort(j.port);
          else if (j.event === "transfer") {
            transfers.push(j);
            for (const w of waiters.splice(0)) w();
          }
        } catch { /* not ours */ }
      }
    }
  })().catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const port = await Promise.race([
    portP,
    new Promise<never>((_, rej) =>
      timer = setTimeout(() => rej(new Error("server did not start")), 30_000)
    ),
  ]).finally(() => clearTimeout(timer));
  return {
    port,
    transfers,
    async waitFor(pred, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = transfers.find(pred);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise<void>((r) => {
          const t = setTimeout(r, left);
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
  };
}

/** sha256 of a file, hex. */
export async function sha256File(path: string): Promise<string> {
  const { createHash } = await import("node:crypto");
  const h = createHash("sha256");
  const f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk); // closes the file at the end
  return h.digest("hex");
}

/** Writes `size` bytes of non-constant content (a repeated random 1 MiB block). */
export async function writeTestFile(path: string, size: number): Promise<void> {
  const block = new Uint8Array(Math.min(size, 1024 * 1024));
  for (let i = 0; i < block.length; i += 65536) {
    crypto.getRandomValues(block.subarray(i, i + 65536));
  }
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let left = size;
    let n = 0;
    while (left > 0) {
      // Vary each copy so a misplaced 1 MiB block would change the checksum.
      block[0] = n++ & 0xff;
      const part = block.subarray(0, Math.min(left, block.length));
      let w = 0;
      while (w < part.length) w += await f.write(part.subarray(w));
      left -= part.length;
    }
  } finally {
    f.close();
  }
}
