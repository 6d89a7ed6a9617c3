/**
 * @module
 * Confined file access for everything served to the network (TFTP, HTTP).
 */
export * from "./safe_path.ts";
export * from "./open_confined.ts";
