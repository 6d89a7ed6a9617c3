/**
 * @module
 * The central node's side of a mesh's links: `br<vni>` holding `<prefix>::1`
 * with the unicast tunnel `vxlan<vni>` in it, and the tunnel's flood entries
 * (`00:00:00:00:00:00 dst <member>`), one per member.
 *
 * Why `ip` and `bridge` subprocesses rather than netlink (netlink.ts): a
 * VXLAN link is RTM_NEWLINK with nested IFLA_LINKINFO/IFLA_INFO_DATA
 * attributes, the flood entries are AF_BRIDGE RTM_NEWNEIGH/RTM_DELNEIGH, and
 * an IPv6 address needs its own ifaddrmsg: about as much encoding again as
 * netlink.ts holds, for calls made a few times per reload or membership
 * change, never per packet. iproute2 is needed on the central node (as on the
 * nodes: busybox `ip` has no vxlan). Every command is kept in this file.
 *
 * The tunnel has no `dev` and no `local`: the kernel picks the outgoing port
 * and source address per member by route, so one tunnel serves members on
 * every segment the central node is on.
 */

/** One mesh's links as the central node makes them. */
export interface MeshLinkSpec {
  readonly vni: number;
  readonly mac: string;
  readonly mtu: number;
  /** `<prefix>::1`. */
  readonly address: string;
}

const ZERO_MAC = "00:00:00:00:00:00";

async function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  let out: Deno.CommandOutput;
  try {
    const child = new Deno.Command(cmd, {
      args: [...args],
      stdin: input === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (input !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(input));
      await w.close();
    }
    out = await child.output();
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")}: ${(e as Error).message} (is iproute2 installed?)`);
  }
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`;
    throw new Error(`${cmd} ${args.join(" ")}: ${why}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The MAC of link `name`, or null when there is no such link. */
async function linkMac(name: string): Promise<string | null> {
  let text: string;
  try {
    text = await run("ip", ["-j", "link", "show", "dev", name]);
  } catch {
    return null; // no such device
  }
  const rows = JSON.parse(text) as { address?: string }[];
  return rows[0]?.address?.toLowerCase() ?? "";
}

/**
 * Removes a mesh's links, only where they carry the mesh's MAC (so a
 * `br<vni>` the operator made for something else is never touched); never
 * throws.
 */
export async function removeMeshLinks(vni: number, mac: string): Promise<void> {
  for (const name of [`vxlan${vni}`, `br${vni}`]) {
    if ((await linkMac(name).catch(() => null)) !== mac.toLowerCase()) continue;
    await run("ip", ["link", "del", name]).catch(() => {});
  }
}

/**
 * Makes a mesh's links afresh, up; left-overs of an earlier run (same MAC)
 * are removed first. Throws when a link of that name exists that is not
 * ours, or when a command fails (then nothing of it is left).
 */
export async function createMeshLinks(spec: MeshLinkSpec): Promise<void> {
  const vx = `vxlan${spec.vni}`, br = `br${spec.vni}`;
  await removeMeshLinks(spec.vni, spec.mac);
  for (const name of [vx, br]) {
    const mac = await linkMac(name);
    if (mac !== null) {
      throw new Error(`${name} exists and is not mesh's (MAC ${mac}); give the mesh another vni`);
    }
  }
  try {
    const mtu = String(spec.mtu);
    await run("ip", ["link", "add", br, "address", spec.mac, "mtu", mtu, "type", "bridge"]);
    await run("ip", [
      ...["link", "add", vx, "address", spec.mac, "mtu", mtu, "type", "vxlan"],
      ...["id", String(spec.vni), "dstport", "4789", "nolearning"],
    ]);
    await run("ip", ["link", "set", vx, "master", br]);
    // nodad: the address is ours by rule, and must be bindable at once
    await run("ip", ["-6", "addr", "add", `${spec.address}/64`, "dev", br, "nodad"]);
    await run("ip", ["link", "set", vx, "up"]);
    await run("ip", ["link", "set", br, "up"]);
  } catch (e) {
    await removeMeshLinks(spec.vni, spec.mac);
    throw e;
  }
}

/** The underlay addresses the tunnel floods to. */
export async function listFloodEntries(vni: number): Promise<string[]> {
  const text = await run("bridge", ["fdb", "show", "dev", `vxlan${vni}`]);
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^00:00:00:00:00:00 dst (\S+)/.exec(line.trim());
    if (m) out.push(m[1]!);
  }
  return out;
}

/**
 * Adds (`append`: one more) flood entries to `add` and removes those to
 * `remove`, in one `bridge -batch` (a thousand members joining in a storm
 * cost one process, not a thousand). `-force` goes on past an entry that is
 * already gone; the caller lists the entries again when it needs the truth.
 */
export async function setFloodEntries(
  vni: number,
  add: readonly string[],
  remove: readonly string[],
): Promise<void> {
  if (add.length + remove.length === 0) return;
  const dev = `vxlan${vni}`;
  const lines = [
    ...add.map((dst) => `fdb append ${ZERO_MAC} dev ${dev} dst ${dst}`),
    ...remove.map((dst) => `fdb del ${ZERO_MAC} dev ${dev} dst ${dst}`),
  ];
  await run("bridge", ["-force", "-batch", "-"], lines.join("\n") + "\n");
}
