/**
 * @module
 * What the mirror must hold, from /host0: `alpine-base` (the initramfs
 * installs it on every node), the top-level `packages` list, every group's
 * and every machine's `packages` (machines with SKIP left out). Each name
 * keeps the file it came from, so an unsatisfiable one is reported there.
 * Pure.
 */
import type { Host0, Machine } from "../config/mod.ts";
import type { Wanted } from "./resolve.ts";

/** Installed by the Alpine initramfs on every node, whatever the lists say. */
export const BASE_PACKAGE = "alpine-base";
const BASE: Wanted = { name: BASE_PACKAGE, from: "alpine-base (installed by the initramfs)" };

const list = (names: readonly string[], from: string): Wanted[] =>
  names.map((name) => ({ name, from }));

/** Everything any node may install: the closure of this is what is mirrored. */
export function mirrorWanted(host0: Host0): Wanted[] {
  const out: Wanted[] = [BASE, ...list(host0.packages, `${host0.root}/packages`)];
  for (const g of host0.groups.values()) out.push(...list(g.packages, `${g.dir}/packages`));
  for (const m of host0.machines) {
    if (!m.skip) out.push(...list(m.packages, `${m.dir}/packages`));
  }
  return out;
}

/** What one machine's nodes install: its groups' packages, then its own. */
export function machineWanted(host0: Host0, m: Machine): Wanted[] {
  const out: Wanted[] = [BASE];
  for (const name of m.groups) {
    const g = host0.groups.get(name);
    if (g) out.push(...list(g.packages, `${g.dir}/packages`));
  }
  out.push(...list(m.packages, `${m.dir}/packages`));
  return out;
}
