/**
 * @module
 * Test-only worker: flips `target` between a regular file (a hard link of
 * `regular`) and a symlink to `outside`, by renaming prepared entries over
 * it, as fast as it can on its own thread, until told to stop or until its
 * deadline. Each round also gives the regular file a new mtime, so caches
 * keyed by mtime keep reloading (each reload is a chance to race). Leaves
 * `target` a regular file. See swap_race.ts.
 */

interface Start {
  readonly target: string;
  readonly regular: string;
  readonly outside: string;
  /** [0]: stop flag, [1]: completed swaps. */
  readonly shared: SharedArrayBuffer;
  readonly deadlineMs: number;
}

// typed by hand: this file is type-checked along with window-scope modules
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<Start>) => void) | null;
  postMessage(message: unknown): void;
};

scope.onmessage = (e) => {
  const { target, regular, outside, shared, deadlineMs } = e.data;
  const flags = new Int32Array(shared);
  // beside the target, named after it: several swappers may share a directory
  const tmpLink = `${target}.swap-link`;
  const tmpFile = `${target}.swap-file`;
  const end = Date.now() + deadlineMs;
  let error: string | null = null;
  try {
    // the deadline bounds the loop even if the test never says stop
    for (let i = 0; Atomics.load(flags, 0) === 0; i++) {
      if ((i & 255) === 0 && Date.now() > end) break;
      Deno.symlinkSync(outside, tmpLink);
      Deno.renameSync(tmpLink, target);
      Deno.linkSync(regular, tmpFile);
      Deno.renameSync(tmpFile, target);
      Deno.utimeSync(regular, 1_000_000_000 + i, 1_000_000_000 + i);
      Atomics.add(flags, 1, 1);
    }
  } catch (err) {
    error = String(err);
  }
  for (const p of [tmpLink, tmpFile]) {
    try {
      Deno.removeSync(p);
    } catch { /* not there */ }
  }
  scope.postMessage({ error });
};
