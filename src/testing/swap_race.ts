/**
 * @module
 * Test helpers for symlink swap races: a temporary tree with a served file
 * and a secret outside the root, and a worker thread that keeps swapping the
 * served file for a symlink to the secret while requests run. Test-only;
 * shared by the TFTP and HTTP race tests.
 */

/** Content of the file outside the root; a response containing it is a leak. */
export const SECRET_MARK = "SECRET-OUTSIDE-THE-ROOT";

/** `size` bytes of `text` repeated. */
export function filled(text: string, size: number): Uint8Array<ArrayBuffer> {
  const unit = new TextEncoder().encode(text);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = unit[i % unit.length]!;
  return out;
}

/** True when `bytes` contains the secret's marker anywhere. */
export function leaksSecret(bytes: Uint8Array): boolean {
  return new TextDecoder("latin1").decode(bytes).includes(SECRET_MARK);
}

export interface Swapper {
  /** Swaps completed so far (one swap: to the symlink and back). */
  swaps(): number;
  /** Resolves once the worker is swapping (its start-up takes a moment); bounded to 30 s. */
  running(): Promise<void>;
  /** Stops the worker, waits for it, and returns the number of swaps. */
  stop(): Promise<number>;
}

/**
 * Starts flipping `target` between a hard link of `regular` (inside the
 * root) and a symlink to `outside`, on a worker thread, until `stop()` or
 * `deadlineMs`. `target` ends up a regular file again.
 */
export function startSwapper(
  target: string,
  regular: string,
  outside: string,
  deadlineMs = 60_000,
): Swapper {
  const shared = new SharedArrayBuffer(8);
  const flags = new Int32Array(shared);
  const worker = new Worker(new URL("./swap_race_worker.ts", import.meta.url), {
    type: "module",
  });
  const done = new Promise<string | null>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ error: string | null }>) => resolve(e.data.error);
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
  });
  worker.postMessage({ target, regular, outside, shared, deadlineMs });
  return {
    swaps: () => Atomics.load(flags, 1),
    async running() {
      for (let i = 0; i < 600 && Atomics.load(flags, 1) === 0; i++) {
        await Promise.race([done, new Promise((r) => setTimeout(r, 50))]);
      }
      if (Atomics.load(flags, 1) === 0) throw new Error("swapper did not start");
    },
    async stop() {
      Atomics.store(flags, 0, 1);
      try {
        const error = await done;
        if (error !== null) throw new Error(`swapper failed: ${error}`);
      } finally {
        worker.terminate();
      }
      return Atomics.load(flags, 1);
    },
  };
}

/** A root with `names` (each content `inside`, plus a `.keep` twin) and a secret outside it. */
export interface RaceTree {
  readonly base: string;
  /** Real path of the served root. */
  readonly root: string;
  /** Real path of the secret file (outside the root). */
  readonly outside: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Builds `<base>/root/<name>` for each of `files` (with `<name>.keep`, a hard
 * link the swapper restores it from) and `<base>/secret`, whose content is
 * the secret marker repeated to `secretSize` bytes.
 */
export async function createRaceTree(
  files: Record<string, Uint8Array>,
  secretSize: number,
): Promise<RaceTree> {
  const base = await Deno.realPath(await Deno.makeTempDir({ prefix: "mesh-race-" }));
  const root = `${base}/root`;
  await Deno.mkdir(root);
  for (const [name, data] of Object.entries(files)) {
    await Deno.writeFile(`${root}/${name}.keep`, data);
    await Deno.link(`${root}/${name}.keep`, `${root}/${name}`);
  }
  const outside = `${base}/secret`;
  await Deno.writeFile(outside, filled(`${SECRET_MARK}\n`, secretSize));
  return {
    base,
    root,
    outside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(base, { recursive: true });
    },
  };
}

/** Runs `total` calls of `one(i)`, at most `concurrency` at a time. */
export async function runPool(
  total: number,
  concurrency: number,
  one: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
}
