/**
 * @module
 * Pure byte helpers shared by every codec: IPv4 and MAC addresses, CIDR math,
 * cursor-based byte readers and writers, the Internet checksum. No FFI, no
 * `Deno.*`.
 */
export * from "./addr.ts";
export * from "./bytes.ts";
export { finishChecksum, internetChecksum, onesSum } from "./checksum.ts";
export * from "./ipv6.ts";
