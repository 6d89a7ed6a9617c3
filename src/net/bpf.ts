/**
 * @module
 * Classic BPF programs for SO_ATTACH_FILTER, so the kernel hands a raw socket
 * only the frames we want instead of every frame on the link. Pure.
 */

/** One `struct sock_filter` instruction. */
export interface BpfInstruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

const ACCEPT = 0x40000; // snap length: the whole frame

function op(code: number, jt: number, jf: number, k: number): BpfInstruction {
  return { code, jt, jf, k };
}

/** IPv4 (untagged), UDP, not a non-first fragment, destination port `port`. */
export function bpfUdpDstPort(port: number): readonly BpfInstruction[] {
  return [
    op(0x28, 0, 0, 12), // ldh [12]            ethertype
    op(0x15, 0, 8, 0x0800), // jeq IPv4
    op(0x30, 0, 0, 23), // ldb [23]            protocol
    op(0x15, 0, 6, 17), // jeq UDP
    op(0x28, 0, 0, 20), // ldh [20]            flags+fragment offset
    op(0x45, 4, 0, 0x1fff), // jset offset -> drop
    op(0xb1, 0, 0, 14), // ldxb 4*([14]&0xf)   IP header length
    op(0x48, 0, 0, 16), // ldh [x+16]          UDP destination port
    op(0x15, 0, 1, port), // jeq port
    op(0x06, 0, 0, ACCEPT),
    op(0x06, 0, 0, 0),
  ];
}

/** ARP frames only. */
export function bpfArp(): readonly BpfInstruction[] {
  return [
    op(0x28, 0, 0, 12),
    op(0x15, 0, 1, 0x0806),
    op(0x06, 0, 0, ACCEPT),
    op(0x06, 0, 0, 0),
  ];
}

/** Drops everything (installed first so no frame slips in before the real filter). */
export function bpfDropAll(): readonly BpfInstruction[] {
  return [op(0x06, 0, 0, 0)];
}

/** Serialises instructions to the kernel's `struct sock_filter[]` layout (little-endian hosts). */
export function encodeBpf(prog: readonly BpfInstruction[]): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(prog.length * 8);
  const v = new DataView(b.buffer);
  prog.forEach((ins, i) => {
    v.setUint16(i * 8, ins.code, true);
    v.setUint8(i * 8 + 2, ins.jt);
    v.setUint8(i * 8 + 3, ins.jf);
    v.setUint32(i * 8 + 4, ins.k, true);
  });
  return b;
}
