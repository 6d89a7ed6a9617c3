/**
 * @module
 * The legacy shell-style `host0.conf` (`key="value"` lines). Only
 * `subnet_pool` and `default_subnet_size` are read; every other key is ignored
 * without error because the original file carries many keys mesh has no use
 * for. Pure.
 */
import type { ConfigIssue } from "../errors.ts";
import { type Cidr, cidrOverlaps, formatCidr, parseCidr } from "../wire/mod.ts";
import type { Parsed } from "./parse_lists.ts";

/** The keys host0.conf may set, each with its line for later messages. */
export interface LegacyConf {
  subnetPool?: { readonly value: Cidr[]; readonly line: number };
  defaultSubnetSize?: { readonly value: number; readonly line: number };
}

/** Strips quotes and shell array parentheses, splits into words. */
function words(value: string): string[] {
  return value.replace(/[()"']/g, " ").split(/\s+/).filter((w) => w !== "");
}

/** Parses host0.conf text. */
export function parseHost0Conf(text: string, file: string): Parsed<LegacyConf> {
  const issues: ConfigIssue[] = [];
  const value: LegacyConf = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const t = lines[i]!.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(t);
    if (!m) continue; // not an assignment: the shell file may hold anything else
    const key = m[1]!;
    // A trailing "# comment" after the value, shell style.
    const raw = m[2]!.replace(/\s+#.*$/, "");
    if (key === "subnet_pool") {
      const pool: Cidr[] = [];
      const ws = words(raw);
      if (ws.length === 0) issues.push({ file, line, message: "subnet_pool is empty" });
      for (const w of ws) {
        try {
          pool.push(parseCidr(w));
        } catch (e) {
          issues.push({ file, line, message: `subnet_pool: ${(e as Error).message}` });
        }
      }
      for (let a = 0; a < pool.length; a++) {
        for (let b = a + 1; b < pool.length; b++) {
          const x = pool[a]!, y = pool[b]!;
          if (cidrOverlaps(x, y)) {
            issues.push({
              file,
              line,
              message: `subnet_pool: ${formatCidr(x)} overlaps ${formatCidr(y)}`,
            });
          }
        }
      }
      value.subnetPool = { value: pool, line };
    } else if (key === "default_subnet_size") {
      const ws = words(raw);
      const n = ws.length === 1 && /^\d+$/.test(ws[0]!) ? Number(ws[0]) : NaN;
      if (!(n >= 8 && n <= 30)) {
        issues.push({
          file,
          line,
          message: `default_subnet_size must be a prefix length 8..30, got "${raw}"`,
        });
      } else {
        value.defaultSubnetSize = { value: n, line };
      }
    }
  }
  return { value, issues };
}
