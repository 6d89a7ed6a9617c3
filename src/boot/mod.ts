/**
 * @module
 * Boot decisions and boot scripts: node ids, per-arch boot files, iPXE scripts. Pure.
 */
export * from "./node_id.ts";
export * from "./ipxe_script.ts";
export * from "./boot_files.ts";
export * from "./identity.ts";
