/**
 * @module
 * KVM workloads on nodes: a workload (src/config) rendered as a
 * qemu-system-x86_64 command line, the node chosen for it, and the node-side
 * supervisor (a POSIX sh script mesh sends over SSH) with the commands and
 * answers that drive it. Everything here is pure; src/cli runs it.
 */
export { nicMac, tapName } from "./identity.ts";
export {
  type Accel,
  isRealUuid,
  memoryMiB,
  type Rendered,
  type RenderInput,
  renderQemu,
  type TapPlan,
} from "./render.ts";
export {
  type Choice,
  chooseNode,
  DEFAULT_RUN_ROOT,
  fits,
  formatSize,
  type Need,
  type NodeCapacity,
  parseProbe,
  PROBE_COMMAND,
  shortfall,
  type Unreachable,
} from "./placement.ts";
export {
  parseRemoteStatus,
  planStart,
  type RemoteStatus,
  shQuote,
  sourceUrl,
  type StartInput,
  type StartPlan,
  SUPERVISOR_NAME,
  supervisorCommand,
} from "./plan.ts";
export { SUPERVISOR_SH } from "./supervisor_sh.ts";
