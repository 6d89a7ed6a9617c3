/**
 * @module
 * A QEMU lab node (`mesh lab --qemu`): a real VM with SeaBIOS + iPXE or OVMF
 * and its own PXE, on a tap on one of the lab's switches, booting the kit's
 * kernel and initramfs through `mesh serve`. Its stages are read off the
 * serial console; it is online when its MESH-NODE line says overlay=ok (the
 * guest's init fetched and unpacked the overlay mesh compiled for it).
 */
import type { NodeState, StageName } from "./light_node.ts";
import { STAGES } from "./light_node.ts";
import type { LabNet } from "./netns.ts";
import { addTap, bootVm } from "./qemu_vm.ts";

export interface QemuNodeSpec {
  readonly firmware: "bios" | "uefi";
  readonly mac: string;
  readonly uuid: string;
  /** Bridge of the node's switch in the lab's switch namespace. */
  readonly bridge: string;
}

export interface QemuBootContext {
  readonly lab: LabNet;
  readonly timeoutMs: number;
  /** Called after every stage change. */
  readonly changed: () => void;
}

/**
 * The stages a console line ends, in order (stages only move forward; iPXE
 * may rewrite several downloads onto one line).
 */
function stagesOf(text: string, node: NodeState): StageName[] {
  if (/Station IP address|Configuring \(net0 .*ok/.test(text)) {
    return [node.times.dhcp === undefined ? "dhcp" : "ipxe-dhcp"];
  }
  if (/iPXE initialising devices/.test(text)) return node.times.dhcp === undefined ? [] : ["tftp"];
  const out: StageName[] = [];
  if (/boot\.ipxe.*\bok\b/.test(text)) out.push("script");
  if (/vmlinuz.*\bok\b/.test(text)) out.push("kernel");
  if (/initr.*\bok\b/.test(text)) out.push("initrd");
  return out;
}

/** Boots one VM; resolves when it is online or failed (never rejects). */
export async function bootQemuNode(
  node: NodeState,
  spec: QemuNodeSpec,
  ctx: QemuBootContext,
): Promise<void> {
  node.startedAt = Date.now();
  node.mac = spec.mac;
  node.stage = "starting";
  ctx.changed();
  const mark = (s: StageName) => {
    if (node.stage !== "starting" && STAGES.indexOf(s) <= STAGES.indexOf(node.stage as StageName)) {
      return;
    }
    node.times[s] = Date.now() - node.startedAt;
    node.stage = s;
    ctx.changed();
  };
  try {
    const tap = await addTap(ctx.lab, `t${node.name}`, spec.bridge);
    const serialFile = `${ctx.lab.dir}/${node.name}.serial`;
    const r = await bootVm(ctx.lab, {
      firmware: spec.firmware,
      ...(spec.firmware === "uefi" ? { uefiNativePxe: true } : {}),
      mac: spec.mac,
      uuid: spec.uuid,
      tap,
      name: `mesh-lab-${node.name}`,
      timeoutMs: ctx.timeoutMs,
      tmpDir: ctx.lab.dir,
      serialFile,
      onLine: (text) => {
        for (const s of stagesOf(text, node)) mark(s);
      },
    });
    if (ctx.lab.closing) return;
    if (!r.ok) {
      const last = r.serial.slice(-2).map((l) => l.replace(/^\[[^\]]*\]\s*/, "")).join(" | ");
      throw new Error(`no MESH-NODE line in ${Math.round(r.ms / 1000)} s (${last || r.stderr})`);
    }
    node.id = r.fields?.id ?? "";
    node.ip = r.fields?.ip ?? "";
    if (r.fields?.overlay !== "ok") throw new Error(`overlay=${r.fields?.overlay ?? "?"}`);
    mark("overlay");
    mark("online");
    node.done = true;
    ctx.changed();
  } catch (e) {
    node.error = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").slice(0, 200);
    node.done = true;
    ctx.changed();
  }
}
