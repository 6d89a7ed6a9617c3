/**
 * @module
 * Boot assets of the QEMU PXE kit, now in src/lab/qemu_assets.ts (`mesh lab
 * --qemu` boots the same kernel and initramfs). Public through ./qemu.ts.
 */
export {
  type BootAssets,
  CACHE_ROOT,
  exists,
  isStaticElf,
  prepareBootAssets,
} from "../../src/lab/mod.ts";
