/**
 * @module
 * TFTP (RFC 1350, 2347-2349, 7440): codecs, option negotiation and the
 * per-transfer state machine (pure), file sources, and the server.
 */
export * from "./packet.ts";
export * from "./negotiate.ts";
export * from "./session.ts";
export * from "./netascii.ts";
export * from "./files.ts";
export * from "./server.ts";
