/**
 * @module
 * `mesh lab`: a throw-away virtual cluster (namespaces, bridges, dnsmasq,
 * `mesh serve` in auto mode and booting nodes) on one Linux machine; and the
 * QEMU PXE kit its `--qemu` nodes (and the e2e tests) boot with.
 */
export { cleanLab, type LabOptions, labUnavailable, runLab } from "./lab.ts";
export {
  type BootAssets,
  CACHE_ROOT,
  exists,
  isStaticElf,
  prepareBootAssets,
} from "./qemu_assets.ts";
export {
  addTap,
  bootVm,
  type BootVmOptions,
  type BootVmResult,
  IPXE_DIR,
  OVMF_CODE,
  OVMF_VARS,
  parseMarker,
  qemuSkipReason,
  type VmLab,
} from "./qemu_vm.ts";
export { processAlive, removeNamespace, run as runCommand } from "./netns.ts";
