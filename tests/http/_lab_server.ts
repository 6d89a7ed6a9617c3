/**
 * Starts tests/http/_server.ts inside a lab namespace and collects its log.
 */
import type { Lab } from "../lib/netns.ts";
import type { ServerSpec } from "./_server.ts";

export interface LabServer {
  readonly port: number;
  /** Log records printed so far (JSON objects). */
  readonly logs: Record<string, unknown>[];
}

const SERVER = new URL("./_server.ts", import.meta.url).pathname;

/** Spawns the server in `host`; resolves once it listens (30 s limit). */
export async function startLabServer(lab: Lab, host: string, spec: ServerSpec): Promise<LabServer> {
  const child = lab.spawn(host, [Deno.execPath(), "run", "-A", SERVER, JSON.stringify(spec)], {
    stdout: "piped",
    stderr: "inherit",
  });
  const logs: Record<string, unknown>[] = [];
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let port = -1;
  let buffered = "";
  let resolveReady!: (p: number) => void;
  const ready = new Promise<number>((r) => (resolveReady = r));
  (async () => {
    for (;;) {
      const { done, value } = await lines.read();
      if (done) break;
      buffered += value;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("LISTENING ")) resolveReady(Number(line.slice(10)));
        else if (line.startsWith("LOG ")) logs.push(JSON.parse(line.slice(4)));
      }
    }
    resolveReady(-1);
  })().catch(() => resolveReady(-1));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<number>((r) => (timer = setTimeout(() => r(-1), 30_000)));
  port = await Promise.race([ready, timeout]);
  clearTimeout(timer);
  if (port < 0) throw new Error("http test server did not start");
  return { port, logs };
}
