/**
 * @module
 * `mesh lab [--nodes N] [--qemu] [--keep] [--timeout S]` and
 * `mesh lab --clean <id>`: a whole virtual cluster in one command.
 */
import { cleanLab, runLab } from "../lab/mod.ts";

export interface LabCmdOptions {
  nodes?: number;
  qemu?: boolean;
  keep?: boolean;
  timeout?: number;
  parallel?: number;
  clean?: string;
}

/** Runs the lab (or removes a kept one); the exit code. */
export function labCommand(o: LabCmdOptions): Promise<number> {
  if (o.clean !== undefined) return cleanLab(o.clean);
  return runLab({
    nodes: o.nodes ?? (o.qemu ? 2 : 6),
    qemu: Boolean(o.qemu),
    keep: Boolean(o.keep),
    timeout: o.timeout ?? (o.qemu ? 300 : 120),
    ...(o.parallel !== undefined ? { parallel: o.parallel } : {}),
  });
}
