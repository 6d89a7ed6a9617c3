/**
 * Runs our TFTP server for the lab tests and the benchmark:
 *   serve_fixture.ts <root> <hostname> <port> [timeoutMs] [perClient] [honorClientTimeout] [retries]
 * Prints {"port": N} when ready, then one {"event":"transfer",...} line per
 * request (what the daemon's node-event hook would receive).
 */
import { startTftpServer } from "../../src/tftp/mod.ts";

const [
  root,
  hostname = "0.0.0.0",
  port = "69",
  timeoutMs = "1000",
  perClient = "32",
  honorClientTimeout = "true",
  retries = "5",
] = Deno.args;
if (!root) {
  console.error("usage: serve_fixture.ts <root> [hostname] [port] [timeoutMs] [perClient]");
  Deno.exit(2);
}
const server = await startTftpServer({
  root,
  hostname,
  port: Number(port),
  timeoutMs: Number(timeoutMs),
  perClient: Number(perClient),
  honorClientTimeout: honorClientTimeout !== "false",
  retries: Number(retries),
  onTransfer: (s) => console.log(JSON.stringify({ event: "transfer", ...s })),
});
Deno.addSignalListener("SIGTERM", () => void server.close().then(() => Deno.exit(0)));
console.log(JSON.stringify({ port: server.addr.port }));
await server.finished;
