/**
 * @module
 * `network/*.conf`: one VXLAN mesh per file, `key=value` lines (name, prefix,
 * vni, nodes, port, mtu), `#` comments; the built-in default mesh of every
 * node; and the checks across files (names, VNIs and prefixes are unique,
 * `nodes=` names folders and groups that exist). Pure.
 */
import { createHash } from "node:crypto";
import type { ConfigIssue } from "../errors.ts";
import type { Network } from "./types.ts";
import type { Parsed } from "./parse_lists.ts";
import { hint } from "./suggest.ts";

const KEYS = ["name", "prefix", "vni", "nodes", "port", "mtu"] as const;

/** The member API's port when `port=` is not set (the original documents' example). */
export const DEFAULT_MESH_PORT = 8000;
/**
 * The tunnel's MTU when `mtu=` is not set: a 1500-byte underlay minus VXLAN's
 * 50 bytes (outer IPv4, UDP, VXLAN and inner Ethernet headers), so a full
 * frame never needs fragmenting on the boot network.
 */
export const DEFAULT_MESH_MTU = 1450;
/** IPv6 needs 1280; the underlay's jumbo frames allow up to 9000 less the headers. */
const MTU_RANGE = [1280, 8950] as const;

/** VNI of a mesh without `vni=`: from its name, above the range people pick by hand. */
export function derivedVni(name: string): number {
  const h = createHash("sha256").update(`mesh-vni:${name}`).digest();
  return 0x100000 + (h.readUInt32BE(0) % (0xffffff - 0x100000));
}

/**
 * The default mesh of every node (the original's "default mesh that includes
 * every node"). Its prefix is a fixed ULA (RFC 4193 fd00::/8) whose 40-bit
 * global id is the first 5 bytes of sha256("mesh default mesh"), subnet 0:
 * the same on every cluster, which is harmless since each cluster's meshes
 * are tunnels of its own. A `network/*.conf` with `name=default` replaces it
 * (its prefix, vni, port, mtu or nodes).
 */
export const DEFAULT_NETWORK: Network = (() => {
  const h = createHash("sha256").update("mesh default mesh").digest();
  const g = [0xfd00 | h[0]!, (h[1]! << 8) | h[2]!, (h[3]! << 8) | h[4]!, 0, 0, 0, 0, 0];
  return {
    file: "(built in)",
    name: "default",
    prefix: `${formatIpv6(g)}/64`,
    vni: 4000,
    port: DEFAULT_MESH_PORT,
    mtu: DEFAULT_MESH_MTU,
    nodes: null,
  };
})();

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

/** One `nodes=` entry: a machine folder, a node id, `group:<name>`, or `all`. */
const MEMBER_RE = /^(group:)?[A-Za-z0-9][A-Za-z0-9_.-]*$/;

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
  let ok = true;
  const bad = (line: number, message: string) => {
    issues.push({ file, line, message });
    ok = false;
  };
  if (!name) {
    issues.push({ file, message: "missing required key name" });
    ok = false;
  } else if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name.value) || name.value.length > 64) {
    bad(name.line, `name must be one word (at most 64 characters), got "${name.value}"`);
  }
  let canonical = "";
  if (!prefix) {
    issues.push({ file, message: "missing required key prefix" });
    ok = false;
  } else {
    const m = /^([0-9a-fA-F:]+)\/64$/.exec(prefix.value);
    const groups = m ? parseIpv6(m[1]!) : null;
    if (!groups) {
      bad(
        prefix.line,
        `prefix must be an IPv6 /64 like fd42:1234:5678:9abc::/64, got "${prefix.value}"`,
      );
    } else if (groups.slice(4).some((g) => g !== 0)) {
      bad(prefix.line, `prefix ${prefix.value} has host bits set`);
    } else if ((groups[0]! & 0xff00) === 0xff00 || (groups[0]! & 0xffc0) === 0xfe80) {
      bad(prefix.line, `prefix ${prefix.value} is multicast or link-local; use a ULA (fd..)`);
    } else {
      canonical = `${formatIpv6(groups)}/64`;
    }
  }
  const number = (key: string, lo: number, hi: number): number | undefined => {
    const v = seen.get(key);
    if (!v) return undefined;
    const n = /^\d+$/.test(v.value) ? Number(v.value) : NaN;
    if (n >= lo && n <= hi) return n;
    bad(v.line, `${key} must be ${lo}..${hi}, got "${v.value}"`);
    return undefined;
  };
  const vni = number("vni", 1, 16777215);
  const port = number("port", 1, 65535);
  const mtu = number("mtu", MTU_RANGE[0], MTU_RANGE[1]);
  let nodes: string[] | null = null;
  const nodesAt = seen.get("nodes");
  if (nodesAt) {
    const list = nodesAt.value.split(/[\s,]+/).filter((x) => x !== "");
    const wrong = list.filter((x) => !MEMBER_RE.test(x));
    if (wrong.length > 0) {
      bad(
        nodesAt.line,
        `nodes lists machine folders, node ids, group:<name> or all; "${wrong[0]}" is none of them`,
      );
    } else if (!list.includes("all")) nodes = [...new Set(list)];
  }
  if (!ok) return { value: null, issues };
  const at: Record<string, number> = {};
  for (const [k, v] of seen) at[k] = v.line;
  const network: Network = {
    file,
    name: name!.value,
    prefix: canonical,
    vni: vni ?? derivedVni(name!.value),
    port: port ?? DEFAULT_MESH_PORT,
    mtu: mtu ?? DEFAULT_MESH_MTU,
    nodes,
    at,
  };
  return { value: network, issues };
}

/** What `nodes=` entries are checked against. */
export interface NetworkContext {
  /** Machine folder names. */
  readonly folders: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
}

/**
 * Checks the meshes of all files together, in file order: a name, VNI or
 * prefix used twice (the built-in default mesh included, unless a file named
 * `default` replaces it), `nodes=` naming a group or folder that does not
 * exist (a bare 8-hex id is a node without a folder of its own, and is fine).
 * Returns the meshes that passed, the first of any clash kept.
 */
export function checkNetworks(
  networks: readonly Network[],
  ctx: NetworkContext,
): Parsed<Network[]> {
  const issues: ConfigIssue[] = [];
  const out: Network[] = [];
  const all = networks.some((n) => n.name === DEFAULT_NETWORK.name)
    ? networks
    : [DEFAULT_NETWORK, ...networks];
  const byName = new Map<string, Network>();
  const byVni = new Map<number, Network>();
  const byPrefix = new Map<string, Network>();
  for (const n of all) {
    const builtIn = n === DEFAULT_NETWORK;
    const issue = (key: string, message: string) =>
      issues.push({ file: n.file, ...(n.at?.[key] ? { line: n.at[key] } : {}), message });
    const clash = (m: Network | undefined) =>
      m === DEFAULT_NETWORK ? "the built-in default mesh" : m?.file;
    let ok = true;
    if (byName.has(n.name)) {
      issue("name", `network name ${n.name} is also used by ${clash(byName.get(n.name))}`);
      ok = false;
    } else if (byVni.has(n.vni)) {
      issue(
        "vni",
        `vni ${n.vni} is also used by ${clash(byVni.get(n.vni))}` +
          (n.at?.vni ? "" : ` (derived from the name; set vni= to choose another)`),
      );
      ok = false;
    } else if (byPrefix.has(n.prefix)) {
      issue("prefix", `prefix ${n.prefix} is also used by ${clash(byPrefix.get(n.prefix))}`);
      ok = false;
    }
    for (const entry of n.nodes ?? []) {
      if (entry.startsWith("group:")) {
        const g = entry.slice(6);
        if (!ctx.groups.has(g)) {
          issue("nodes", `nodes: no group "${g}" in groups/${hint(g, [...ctx.groups])}`);
          ok = false;
        }
      } else if (!ctx.folders.has(entry) && !/^[0-9a-f]{8}$/.test(entry)) {
        issue(
          "nodes",
          `nodes: "${entry}" is neither a machine folder nor an 8-hex node id${
            hint(entry, [...ctx.folders])
          }`,
        );
        ok = false;
      }
    }
    if (!ok) continue;
    byName.set(n.name, n);
    byVni.set(n.vni, n);
    byPrefix.set(n.prefix, n);
    if (!builtIn) out.push(n);
  }
  return { value: out, issues };
}
