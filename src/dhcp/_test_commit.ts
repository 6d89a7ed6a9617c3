/**
 * @module
 * Test helper: a responder or lease pool whose decided rows are applied at
 * once, as the server does after each successful commit. Pure tests of
 * decisions use it; tests of staging itself use the plain object.
 */
import type { BindResult } from "./leases.ts";
import type { LeaseChange } from "./lease_types.ts";

type Decided = { readonly changes?: readonly LeaseChange[] } | BindResult | LeaseChange | null;

function changesOf(out: Decided | readonly LeaseChange[]): readonly LeaseChange[] {
  if (out === null) return [];
  if (Array.isArray(out)) return out;
  if ("changes" in out) return out.changes ?? [];
  if ("ok" in out) return [];
  return [out as LeaseChange];
}

const DECIDING = new Set([
  "respond",
  "probeFailed",
  "expireDue",
  "bind",
  "release",
  "decline",
  "quarantine",
]);

/** `target` with every deciding method's rows applied right after it returns. */
export function committing<T extends { apply(rows: readonly LeaseChange[]): void }>(target: T): T {
  return new Proxy(target, {
    get(t, prop) {
      const v = Reflect.get(t, prop, t);
      if (typeof v !== "function") return v;
      const f = (v as (...a: unknown[]) => unknown).bind(t);
      if (typeof prop !== "string" || !DECIDING.has(prop)) return f;
      return (...args: unknown[]) => {
        const out = f(...args) as Decided | readonly LeaseChange[];
        t.apply(changesOf(out));
        return out;
      };
    },
  });
}
