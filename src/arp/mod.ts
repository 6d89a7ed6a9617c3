/**
 * @module
 * ARP: packet codec and probe classification (pure).
 */
export {
  ARP_FRAME_LENGTH,
  ArpOp,
  type ArpPacket,
  arpProbe,
  decodeArpFrame,
  encodeArpFrame,
  provesInUse,
} from "./packet.ts";
