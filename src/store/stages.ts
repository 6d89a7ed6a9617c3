/**
 * @module
 * Boot stages of a node, in the order a netboot passes them. Pure.
 */

/** Boot stages, ordered. */
export const Stage = {
  Discovered: "discovered",
  Dhcp: "dhcp",
  Firmware: "firmware",
  Script: "script",
  Kernel: "kernel",
  Initrd: "initrd",
  Apkovl: "apkovl",
  Online: "online",
} as const;
export type Stage = typeof Stage[keyof typeof Stage];

/** All stages in boot order. */
export const STAGES: readonly Stage[] = Object.values(Stage);

/** Position of a stage in boot order (unknown text sorts first). */
export function stageRank(stage: string): number {
  return STAGES.indexOf(stage as Stage);
}

/** True when `text` names a stage. */
export function isStage(text: string): text is Stage {
  return stageRank(text) >= 0;
}

/**
 * The node's stage after an event. Events only move the stage forward, since
 * one boot sends DHCP up to three times (firmware, chained iPXE, initramfs).
 * A `discovered` event (a PXE DISCOVER) begins a new boot only once the node
 * got as far as its boot script: before that it is the chained iPXE of the
 * same boot (firmware → undionly.kpxe/snponly.efi → iPXE DISCOVERs again).
 */
export function nextStage(current: Stage | null, event: Stage): { stage: Stage; newBoot: boolean } {
  if (current === null) return { stage: event, newBoot: true };
  if (event === Stage.Discovered && stageRank(current) >= stageRank(Stage.Script)) {
    return { stage: event, newBoot: true };
  }
  return { stage: stageRank(event) > stageRank(current) ? event : current, newBoot: false };
}
