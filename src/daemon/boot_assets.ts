/**
 * @module
 * Puts the iPXE binaries into the boot directory that TFTP and HTTP (/boot/)
 * serve. They come from Debian's `ipxe` package (or `boot.ipxe_dir`); a
 * missing one is a start-up error naming the file and how to get it.
 */
import type { BootSettings } from "../config/mod.ts";

/** File names the daemon copies, and whether each must exist. */
export function wantedBinaries(boot: BootSettings): { name: string; required: boolean }[] {
  const out = [
    { name: boot.bios, required: true },
    { name: boot.efiX64, required: !boot.efiX64Snp },
    { name: "snponly.efi", required: boot.efiX64Snp },
  ];
  if (boot.efiArm64) out.push({ name: boot.efiArm64, required: true });
  // One entry per name; required wins.
  const seen = new Map<string, boolean>();
  for (const b of out) seen.set(b.name, (seen.get(b.name) ?? false) || b.required);
  return [...seen].map(([name, required]) => ({ name, required }));
}

/**
 * Copies each wanted binary from `boot.ipxeDir` into `bootDir` when missing or
 * different in size or age. Returns the names installed; throws an Error
 * naming the first required file that cannot be found.
 */
export async function installIpxeBinaries(boot: BootSettings, bootDir: string): Promise<string[]> {
  await Deno.mkdir(bootDir, { recursive: true });
  const installed: string[] = [];
  for (const { name, required } of wantedBinaries(boot)) {
    const src = `${boot.ipxeDir}/${name}`;
    const dst = `${bootDir}/${name}`;
    let from: Deno.FileInfo;
    try {
      from = await Deno.stat(src); // follows the symlink Debian uses for ipxe.efi
    } catch {
      try {
        await Deno.stat(dst);
        installed.push(name); // already provided by the user
        continue;
      } catch { /* neither */ }
      if (!required) continue;
      throw new Error(
        `boot file ${name} not found in ${boot.ipxeDir} nor ${bootDir}: install Debian's "ipxe" package or set boot.ipxe_dir in mesh.yaml`,
      );
    }
    let same = false;
    try {
      const to = await Deno.stat(dst);
      same = to.size === from.size && (to.mtime?.getTime() ?? 0) >= (from.mtime?.getTime() ?? 0);
    } catch { /* not there yet */ }
    if (!same) {
      const tmp = `${dst}.tmp-${Deno.pid}`;
      await Deno.copyFile(src, tmp);
      await Deno.rename(tmp, dst);
    }
    installed.push(name);
  }
  return installed;
}
