/**
 * @module
 * `network/*.conf`: one VXLAN mesh per file, `key=value` lines (name, prefix,
 * vni), `#` comments. Pure.
 */
import type { ConfigIssue } from "../errors.ts";
import type { Network } from "./types.ts";
import type { Parsed } from "./parse_lists.ts";
import { hint } from "./suggest.ts";

const KEYS = ["name", "prefix", "vni"] as const;

/** Parses an IPv6 address into 8 16-bit groups, or null. */
export function parseIpv6(text: string): number[] | null {
  if (!/^[0-9a-fA-F:]+$/.test(text) || text.includes(":::")) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const part = (s: string): number[] | null => {
    if (s === "") return [];
    const groups = s.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const fill = 8 - head.length - tail.length;
  if (fill < 1) return null;
  return [...head, ...new Array<number>(fill).fill(0), ...tail];
}

/** Canonical (RFC 5952) text of 8 groups. */
export function formatIpv6(groups: readonly number[]): string {
  // Longest run of two or more zero groups becomes "::" (first one on ties).
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Parses one network conf file. `value` is null when required keys are missing or bad. */
export function parseNetworkConf(text: string, file: string): Parsed<Network | null> {
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, { value: string; line: number }>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const t = lines[i]!.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(t);
    if (!m) {
      issues.push({ file, line, message: `expected key=value, got "${t.slice(0, 60)}"` });
      continue;
    }
    const key = m[1]!;
    const value = m[2]!.replace(/^(["'])(.*)\1$/, "$2").trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      issues.push({ file, line, message: `unknown key "${key}"${hint(key, KEYS)}` });
      continue;
    }
    const before = seen.get(key);
    if (before) {
      issues.push({ file, line, message: `${key} is already set at line ${before.line}` });
      continue;
    }
    seen.set(key, { value, line });
  }
  const name = seen.get("name");
  const prefix = seen.get("prefix");
  const vni = seen.get("vni");
  let ok = true;
  if (!name) {
    issues.push({ file, message: "missing required key name" });
    ok = false;
  } else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name.value)) {
    issues.push({ file, line: name.line, message: `name must be one word, got "${name.value}"` });
    ok = false;
  }
  let canonical = "";
  if (!prefix) {
    issues.push({ file, message: "missing required key prefix" });
    ok = false;
  } else {
    const m = /^([0-9a-fA-F:]+)\/64$/.exec(prefix.value);
    const groups = m ? parseIpv6(m[1]!) : null;
    if (!groups) {
      issues.push({
        file,
        line: prefix.line,
        message: `prefix must be an IPv6 /64 like fd42:1234:5678:9abc::/64, got "${prefix.value}"`,
      });
      ok = false;
    } else if (groups.slice(4).some((g) => g !== 0)) {
      issues.push({ file, line: prefix.line, message: `prefix ${prefix.value} has host bits set` });
      ok = false;
    } else {
      canonical = `${formatIpv6(groups)}/64`;
    }
  }
  let vniValue: number | undefined;
  if (vni) {
    const n = /^\d+$/.test(vni.value) ? Number(vni.value) : NaN;
    if (!(n >= 1 && n <= 16777215)) {
      issues.push({ file, line: vni.line, message: `vni must be 1..16777215, got "${vni.value}"` });
      ok = false;
    } else {
      vniValue = n;
    }
  }
  if (!ok) return { value: null, issues };
  const network: Network = vniValue === undefined
    ? { file, name: name!.value, prefix: canonical }
    : { file, name: name!.value, prefix: canonical, vni: vniValue };
  return { value: network, issues };
}
