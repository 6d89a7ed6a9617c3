/**
 * @module
 * Checks shared by the daemon tests: a DHCP exchange that configures nothing,
 * and "this daemon still serves HTTP and TFTP" from a lab host.
 */
import assert from "node:assert/strict";
import type { ExecResult, Lab } from "./netns.ts";

/**
 * One busybox udhcpc run on eth0 of `host`. Its script is /bin/true: the
 * default script would write the host's /etc/resolv.conf (ip netns exec
 * shares /etc) and configure the interface.
 */
export function dhcpOnce(
  lab: Lab,
  host: string,
  opts: { tries?: number; vendorClass?: string } = {},
): Promise<ExecResult> {
  return lab.exec(host, [
    "udhcpc",
    ...["-i", "eth0", "-f", "-q", "-n", "-t", String(opts.tries ?? 3), "-T", "2"],
    ...["-s", "/bin/true"],
    ...(opts.vendorClass !== undefined ? ["-V", opts.vendorClass] : []),
  ], { timeoutMs: 60_000 });
}

/** Asserts that `srv` answers /healthz and sends undionly.kpxe over TFTP to `host`. */
export async function assertServes(lab: Lab, host: string, srv: string): Promise<void> {
  const health = await lab.exec(host, ["curl", "-sS", "-m", "10", `http://${srv}/healthz`]);
  assert.equal(health.stdout, "ok\n", health.stderr);
  const tftp = await lab.exec(host, [
    "curl",
    ...["-sS", "-m", "20", "-o", "/dev/null", "-w", "%{size_download}"],
    `tftp://${srv}/undionly.kpxe`,
  ]);
  assert.equal(tftp.code, 0, tftp.stderr);
  assert.ok(Number(tftp.stdout) > 0, "undionly.kpxe over TFTP");
}
