/**
 * @module
 * Debian's sshd as a lab node's SSH server (for `mesh node ctl` and `mesh
 * workload`): its own host key, mesh's key authorized from the lab
 * directory, listening on the node's address only; killed with the lab.
 */
import type { Lab } from "./netns.ts";

export const SSHD = "/usr/sbin/sshd";

export interface SshdOptions {
  /** A fresh host key (the node was "reinstalled"). */
  readonly rekey?: boolean;
  /** `SetEnv` lines for every session. */
  readonly env?: Readonly<Record<string, string>>;
  /** Command words before sshd (e.g. taskset). */
  readonly prefix?: readonly string[];
}

async function sh(cmd: string[]): Promise<void> {
  const r = await new Deno.Command(cmd[0]!, { args: cmd.slice(1), stderr: "piped" }).output();
  if (!r.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

/** Starts sshd for node `n` in its namespace; `dir/authorized_keys` is what it accepts. */
export async function startLabSshd(
  lab: Lab,
  dir: string,
  n: { readonly host: string; readonly ip: string },
  o: SshdOptions = {},
): Promise<Deno.ChildProcess> {
  const key = `${dir}/${n.host}_host_ed25519`;
  if (o.rekey) await Deno.remove(key).catch(() => {});
  await Deno.remove(`${key}.pub`).catch(() => {});
  await sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
  const conf = `${dir}/${n.host}_sshd_config`;
  await Deno.writeTextFile(
    conf,
    [
      `ListenAddress ${n.ip}`,
      `HostKey ${key}`,
      "PidFile none",
      `AuthorizedKeysFile ${dir}/authorized_keys`,
      "StrictModes no",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      ...Object.entries(o.env ?? {}).map(([k, v]) => `SetEnv ${k}=${v}`),
      "",
    ].join("\n"),
  );
  return lab.spawn(n.host, [...(o.prefix ?? []), SSHD, "-D", "-e", "-f", conf], {
    stdout: "null",
    stderr: "null",
  });
}

/** Waits (bounded) until something listens on ip:port, as seen from lab host `from`. */
export async function waitListening(lab: Lab, ip: string, port = 22, from = "srv"): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await lab.exec(from, ["bash", "-c", `exec 3<>/dev/tcp/${ip}/${port}`]);
    if (r.code === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${ip}:${port}`);
}
