/**
 * @module
 * mesh.yaml: settings of the central node. Every key is optional; defaults
 * live in `DEFAULTS` below. Validation is complete: every problem is reported
 * with its line, unknown keys with a "did you mean" hint. The legacy
 * host0.conf keys fill in what mesh.yaml leaves unset. Pure.
 */
import {
  type Cidr,
  cidrContains,
  cidrOverlaps,
  formatCidr,
  parseCidr,
  parseIpv4,
  parseMac,
} from "../wire/mod.ts";
import type { ConfigIssue } from "../errors.ts";
import { isSeq } from "yaml";
import type { LegacyConf } from "./parse_host0_conf.ts";
import type { Parsed } from "./parse_lists.ts";
import { joinPath } from "./paths.ts";
import {
  type InterfaceMode,
  InterfaceMode as Modes,
  type InterfaceSettings,
  type OverlayAccess,
  OverlayAccess as Access,
  type Pacing,
  type ProxyStrategySetting,
  type Reservation,
  type RogueActionSetting,
  type Settings,
  type SourceAt,
} from "./types.ts";
import { checkPinnedSubnets, pinnedSubnet } from "./subnet_checks.ts";
import { parseYaml, type Walker, type YNode } from "./yaml_walk.ts";

/** Defaults that do not depend on the host0 or state directory. */
export const DEFAULTS = {
  subnetPool: "10.11.0.0/16",
  defaultSubnetSize: 24,
  leaseTime: 3600,
  tftp: {
    address: "0.0.0.0",
    port: 69,
    maxTransfers: 1000,
    perClient: 8,
    timeoutMs: 1000,
    retries: 5,
  },
  http: {
    address: "0.0.0.0",
    port: 80,
    overlayAccess: Access.Lease,
    maxConnections: 1024,
    maxPerClient: 64,
    headerTimeoutMs: 10_000,
    idleTimeoutMs: 10_000,
    pacing: "auto" as Pacing,
  },
  // The ARP scan: 8 ports in about 1 s; a segment away for a week loses its subnet.
  // The DHCP probe listens 6 s: dnsmasq pings an address for 3 s before its
  // first offer, and a loaded machine must not make the probe miss that offer
  // (a server missed is a network mesh would hand addresses out on).
  scan: {
    probes: 3,
    intervalMs: 30,
    settleMs: 250,
    subnetHoldHours: 168,
    dhcpProbeMs: 6000,
    reprobeMinutes: 10,
  },
  boot: {
    ipxeDir: "/usr/lib/ipxe",
    bios: "undionly.kpxe",
    efiX64: "ipxe.efi",
    efiX64Snp: true,
    efiArm64: null,
    alpineBranch: "latest-stable",
  },
} as const;

const TOP_KEYS = [
  "state_dir",
  "subnet_pool",
  "default_subnet_size",
  "interfaces",
  "dhcp",
  "tftp",
  "http",
  "boot",
  "mirror",
  "scan",
  "control",
] as const;
const SCAN_KEYS = [
  "probes",
  "interval_ms",
  "settle_ms",
  "subnet_hold_hours",
  "dhcp_probe_ms",
  "reprobe_minutes",
] as const;
const IFACE_KEYS = ["mode", "address", "subnet", "pool", "router", "dns"] as const;
const DHCP_KEYS = [
  "lease_time",
  "domain",
  "dns",
  "reservations",
  "rogue_action",
  "proxy_bios",
  "proxy_uefi",
] as const;
const RESERVATION_KEYS = ["mac", "node", "ip", "hostname"] as const;
const TFTP_KEYS = [
  "address",
  "port",
  "max_transfers",
  "per_client",
  "timeout_ms",
  "retries",
  "root",
] as const;
const HTTP_KEYS = [
  "address",
  "port",
  "public_host",
  "overlay_access",
  "api_access",
  "management",
  "api_token_file",
  "status_page",
  "max_connections",
  "max_per_client",
  "header_timeout_ms",
  "idle_timeout_ms",
  "pacing",
] as const;
const BOOT_KEYS = [
  "ipxe_dir",
  "bios",
  "efi_x64",
  "efi_x64_snp",
  "efi_arm64",
  "alpine_branch",
  "kernel",
  "initramfs",
  "modloop",
  "cmdline",
] as const;
const MIRROR_KEYS = ["dir", "upstream"] as const;
const CONTROL_KEYS = ["socket"] as const;

type Entries = Map<string, { key: YNode; value: YNode }>;

/** Typed reads of one mapping's values; each bad value is one issue. */
class Section {
  constructor(
    readonly w: Walker,
    readonly entries: Entries,
    readonly path: string,
    readonly host0Dir: string,
  ) {}

  private where(key: string): string {
    return this.path === "" ? key : `${this.path}.${key}`;
  }

  node(key: string): YNode {
    return this.entries.get(key)?.value;
  }

  /** Where the key's value was written (the key's line when the value has none). */
  at(key: string): SourceAt | undefined {
    const e = this.entries.get(key);
    return this.w.at(e?.value, e?.key);
  }

  has(key: string): boolean {
    const e = this.entries.get(key);
    return e !== undefined && !(e.value === null || e.value === undefined);
  }

  /** Reads a scalar and converts it; `convert` returns a message on failure. */
  read<T>(key: string, convert: (v: unknown) => T | { error: string }): T | undefined {
    const e = this.entries.get(key);
    if (!e || e.value === null || e.value === undefined) return undefined;
    const v = this.w.scalar(e.value, this.where(key), e.key);
    if (v === undefined) return undefined;
    if (v === null) return undefined;
    const r = convert(v);
    if (typeof r === "object" && r !== null && "error" in r) {
      this.w.error(e.value, `${this.where(key)}: ${(r as { error: string }).error}`, e.key);
      return undefined;
    }
    return r as T;
  }

  str(key: string): string | undefined {
    return this.read(
      key,
      (v) => typeof v === "string" && v !== "" ? v : { error: "must be a non-empty string" },
    );
  }

  int(key: string, min: number, max: number): number | undefined {
    return this.read(
      key,
      (v) =>
        typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
          ? v
          : { error: `must be an integer ${min}..${max}, got ${JSON.stringify(v)}` },
    );
  }

  bool(key: string): boolean | undefined {
    return this.read(key, (v) => typeof v === "boolean" ? v : { error: "must be true or false" });
  }

  oneOf<T extends string>(key: string, options: readonly T[]): T | undefined {
    return this.read(
      key,
      (v) =>
        typeof v === "string" && (options as readonly string[]).includes(v)
          ? v as T
          : { error: `must be one of ${options.join(", ")}, got ${JSON.stringify(v)}` },
    );
  }

  ip(key: string): number | undefined {
    return this.read(key, ipValue);
  }

  cidr(key: string): Cidr | undefined {
    return this.read(key, cidrValue);
  }

  /** A path; relative ones are taken relative to the host0 dir. */
  path_(key: string): string | undefined {
    const s = this.str(key);
    return s === undefined ? undefined : s.startsWith("/") ? s : joinPath(this.host0Dir, s);
  }

  /**
   * A list of scalars, each converted. `at`, when given, gets where each kept
   * item was written, in the same order, so later checks can name its line.
   */
  list<T>(
    key: string,
    convert: (v: unknown) => T | { error: string },
    at?: (SourceAt | undefined)[],
  ): T[] | undefined {
    const e = this.entries.get(key);
    if (!e || e.value === null || e.value === undefined) return undefined;
    const items = this.w.seq(e.value, this.where(key), e.key);
    if (items === null) return undefined;
    const out: T[] = [];
    items.forEach((item, i) => {
      const v = this.w.scalar(item, `${this.where(key)}[${i}]`, e.value);
      if (v === undefined) return;
      const r = convert(v);
      if (typeof r === "object" && r !== null && "error" in r) {
        this.w.error(item, `${this.where(key)}[${i}]: ${(r as { error: string }).error}`, e.value);
      } else {
        out.push(r as T);
        at?.push(this.w.at(item, e.value));
      }
    });
    return out;
  }

  sub(key: string, allowed: readonly string[] | null): Section {
    const e = this.entries.get(key);
    const m = e ? this.w.map(e.value, this.where(key), allowed, e.key) : null;
    return new Section(this.w, m ?? new Map(), this.where(key), this.host0Dir);
  }
}

/** `{ [key]: value }` when the value is set, else nothing (for exactOptionalPropertyTypes). */
function optional<K extends string, T>(key: K, value: T | undefined): { [k in K]?: T } {
  return value === undefined ? {} : { [key]: value } as { [k in K]: T };
}

function ipValue(v: unknown): number | { error: string } {
  try {
    if (typeof v !== "string") throw new RangeError("expected an IPv4 address like 10.11.0.1");
    return parseIpv4(v);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function cidrValue(v: unknown): Cidr | { error: string } {
  try {
    if (typeof v !== "string") throw new RangeError("expected a CIDR like 10.11.0.0/16");
    return parseCidr(v);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** "10.11.0.1/24": an address with its prefix; host bits are the point. */
function addressValue(v: unknown): { ip: number; prefix: number } | { error: string } {
  const m = typeof v === "string" ? /^([0-9.]+)\/(\d{1,2})$/.exec(v) : null;
  if (!m || Number(m[2]) > 32 || Number(m[2]) < 1) {
    return { error: `expected address/prefix like 10.11.0.1/24, got ${JSON.stringify(v)}` };
  }
  const ip = ipValue(m[1]);
  return typeof ip === "number" ? { ip, prefix: Number(m[2]) } : ip;
}

function parseInterface(s: Section, name: string): InterfaceSettings {
  const modes = Object.values(Modes) as InterfaceMode[];
  const mode = s.oneOf("mode", modes) ?? Modes.Auto;
  const address = s.read("address", addressValue);
  const subnet = s.cidr("subnet");
  const router = s.ip("router");
  const dnsAt: (SourceAt | undefined)[] = [];
  const dns = s.list("dns", ipValue, dnsAt);
  let pool: { start: number; end: number } | undefined;
  if (s.has("pool")) {
    const p = s.sub("pool", ["start", "end"]);
    const start = p.ip("start");
    const end = p.ip("end");
    if (!p.has("start") || !p.has("end")) {
      s.w.error(s.node("pool"), `${s.path}.pool needs both start and end`);
    } else if (start !== undefined && end !== undefined) {
      if (start > end) s.w.error(s.node("pool"), `${s.path}.pool: start is after end`);
      else pool = { start, end };
    }
  }
  const net = pinnedSubnet({
    name,
    mode,
    ...optional("address", address),
    ...optional("subnet", subnet),
  });
  if (net && pool && !(cidrContains(net, pool.start) && cidrContains(net, pool.end))) {
    s.w.error(s.node("pool"), `${s.path}.pool is outside ${formatCidr(net)}`);
  }
  if (subnet && address && !cidrContains(subnet, address.ip)) {
    s.w.error(s.node("address"), `${s.path}.address is outside subnet ${formatCidr(subnet)}`);
  }
  return {
    name,
    mode,
    ...(address ? { address } : {}),
    ...(subnet ? { subnet } : {}),
    ...(pool ? { pool } : {}),
    ...(router !== undefined ? { router } : {}),
    ...(dns ? { dns } : {}),
    at: {
      ...optional("address", address && s.at("address")),
      ...optional("router", router === undefined ? undefined : s.at("router")),
      ...(dns ? { dns: dnsAt } : {}),
    },
  };
}

function parseReservations(s: Section): Reservation[] {
  const node = s.node("reservations");
  if (node === null || node === undefined) return [];
  const items = s.w.seq(node, "dhcp.reservations");
  if (items === null) return [];
  const out: Reservation[] = [];
  items.forEach((item, i) => {
    const path = `dhcp.reservations[${i}]`;
    const m = s.w.map(item, path, RESERVATION_KEYS, node);
    if (m === null) return;
    const r = new Section(s.w, m, path, s.host0Dir);
    const mac = r.read("mac", (v) => {
      try {
        return parseMac(String(v));
      } catch (e) {
        return { error: (e as Error).message };
      }
    });
    const nodeId = r.read(
      "node",
      (v) =>
        typeof v === "string" && /^[0-9a-f]{8}$/.test(v)
          ? v
          : { error: "must be an 8-character lower-case hex node id" },
    );
    const ip = r.ip("ip");
    const hostname = r.read(
      "hostname",
      (v) =>
        typeof v === "string" && /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})$/.test(v)
          ? v
          : { error: "must be a host name label" },
    );
    if (r.has("mac") === r.has("node")) s.w.error(item, `${path}: give exactly one of mac or node`);
    if (!r.has("ip")) s.w.error(item, `${path}: ip is required`);
    if (ip !== undefined && (mac !== undefined || nodeId !== undefined)) {
      out.push({
        ip,
        ...(mac !== undefined ? { mac } : {}),
        ...(nodeId !== undefined ? { node: nodeId } : {}),
        ...(hostname !== undefined ? { hostname } : {}),
        ...optional("at", r.at("ip")),
      });
    }
  });
  return out;
}

/**
 * Parses mesh.yaml (text null when the file is absent) into settings with
 * every default applied. `legacy` holds what host0.conf set; mesh.yaml wins.
 */
export function parseMeshYaml(
  text: string | null,
  file: string,
  host0Dir: string,
  legacy: LegacyConf = {},
): Parsed<Settings> {
  let w: Walker | null = null;
  let top: Entries = new Map();
  if (text !== null) {
    const parsed = parseYaml(text, file);
    w = parsed.walker;
    if (parsed.ok) top = w.map(parsed.root, "", TOP_KEYS) ?? new Map();
  }
  const walker = w ?? parseYaml("", file).walker;
  const s = new Section(walker, top, "", host0Dir);

  const stateDir = s.path_("state_dir") ?? joinPath(host0Dir, "state");
  const beforePool = walker.issues.length;
  const subnetPoolList = s.list("subnet_pool", cidrValue);
  const poolNode = s.node("subnet_pool");
  if (isSeq(poolNode) && poolNode.items.length === 0) {
    walker.error(s.node("subnet_pool"), "subnet_pool must list at least one CIDR");
  }
  if (subnetPoolList) {
    for (let a = 0; a < subnetPoolList.length; a++) {
      for (let b = a + 1; b < subnetPoolList.length; b++) {
        if (cidrOverlaps(subnetPoolList[a]!, subnetPoolList[b]!)) {
          walker.error(
            s.node("subnet_pool"),
            `subnet_pool: ${formatCidr(subnetPoolList[a]!)} overlaps ${
              formatCidr(subnetPoolList[b]!)
            }`,
          );
        }
      }
    }
  }
  const subnetPool = s.has("subnet_pool")
    ? subnetPoolList ?? []
    : legacy.subnetPool?.value ?? [parseCidr(DEFAULTS.subnetPool)];
  const poolIssues = walker.issues.length - beforePool;
  const defaultSubnetSize = s.int("default_subnet_size", 8, 30) ??
    legacy.defaultSubnetSize?.value ?? DEFAULTS.defaultSubnetSize;

  const interfaces: Record<string, InterfaceSettings> = {};
  const beforeInterfaces = walker.issues.length;
  const ifs = s.sub("interfaces", null);
  for (const [name, { value }] of ifs.entries) {
    if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(name)) {
      walker.error(ifs.entries.get(name)!.key, `interfaces: "${name}" is not an interface name`);
      continue;
    }
    const m = walker.map(value, `interfaces.${name}`, IFACE_KEYS);
    interfaces[name] = parseInterface(
      new Section(walker, m ?? new Map(), `interfaces.${name}`, host0Dir),
      name,
    );
  }

  const interfaceIssues = walker.issues.length - beforeInterfaces;

  const d = s.sub("dhcp", DHCP_KEYS);
  const domain = d.read(
    "domain",
    (v) =>
      typeof v === "string" && /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(v)
        ? v
        : { error: "must be a domain name" },
  );
  const dhcpDnsAt: (SourceAt | undefined)[] = [];
  const dhcpDns = d.list("dns", ipValue, dhcpDnsAt);
  const dhcp = {
    leaseTime: d.int("lease_time", 60, 31536000) ?? DEFAULTS.leaseTime,
    ...(domain !== undefined ? { domain } : {}),
    dns: dhcpDns ?? [],
    ...(dhcpDns ? { dnsAt: dhcpDnsAt } : {}),
    reservations: parseReservations(d),
    rogueAction: d.oneOf<RogueActionSetting>("rogue_action", ["switch", "stop", "warn"]) ??
      "switch",
    proxyBios: d.oneOf<ProxyStrategySetting>("proxy_bios", ["option43", "port4011"]) ?? "option43",
    proxyUefi: d.oneOf<ProxyStrategySetting>("proxy_uefi", ["option43", "port4011"]) ?? "port4011",
  };
  // A subnet or pool that failed to parse may hold reservations that would look stray.
  const subnetsRead = poolIssues === 0 && interfaceIssues === 0;
  for (const p of checkPinnedSubnets({ interfaces, dhcp, subnetPool }, subnetsRead)) {
    walker.issues.push({ file: p.file ?? file, ...optional("line", p.line), message: p.message });
  }

  const sc = s.sub("scan", SCAN_KEYS);
  const scan = {
    probes: sc.int("probes", 1, 20) ?? DEFAULTS.scan.probes,
    intervalMs: sc.int("interval_ms", 1, 1000) ?? DEFAULTS.scan.intervalMs,
    settleMs: sc.int("settle_ms", 0, 10000) ?? DEFAULTS.scan.settleMs,
    subnetHoldMs: (sc.int("subnet_hold_hours", 0, 87600) ?? DEFAULTS.scan.subnetHoldHours) *
      3_600_000,
    dhcpProbeMs: sc.int("dhcp_probe_ms", 0, 60000) ?? DEFAULTS.scan.dhcpProbeMs,
    reprobeMs: (sc.int("reprobe_minutes", 0, 10080) ?? DEFAULTS.scan.reprobeMinutes) * 60_000,
  };

  const stateRel = (rel: string) => joinPath(stateDir, rel);
  const t = s.sub("tftp", TFTP_KEYS);
  const tftp = {
    address: t.ip("address") ?? parseIpv4(DEFAULTS.tftp.address),
    port: t.int("port", 1, 65535) ?? DEFAULTS.tftp.port,
    maxTransfers: t.int("max_transfers", 1, 100000) ?? DEFAULTS.tftp.maxTransfers,
    perClient: t.int("per_client", 1, 1000) ?? DEFAULTS.tftp.perClient,
    timeoutMs: t.int("timeout_ms", 10, 60000) ?? DEFAULTS.tftp.timeoutMs,
    retries: t.int("retries", 0, 100) ?? DEFAULTS.tftp.retries,
    root: t.path_("root") ?? stateRel("boot"),
  };

  const h = s.sub("http", HTTP_KEYS);
  const publicHost = h.read(
    "public_host",
    (v) =>
      typeof v === "string" && /^[A-Za-z0-9.:\[\]-]+$/.test(v)
        ? v
        : { error: "must be a host name or IP (optionally :port)" },
  );
  const http = {
    address: h.ip("address") ?? parseIpv4(DEFAULTS.http.address),
    port: h.int("port", 1, 65535) ?? DEFAULTS.http.port,
    ...(publicHost !== undefined ? { publicHost } : {}),
    overlayAccess: h.oneOf<OverlayAccess>("overlay_access", Object.values(Access)) ??
      DEFAULTS.http.overlayAccess,
    apiAccess: h.oneOf<"management" | "any">("api_access", ["management", "any"]) ?? "management",
    management: h.list("management", cidrValue) ?? [],
    ...optional("apiTokenFile", h.path_("api_token_file")),
    statusPage: h.oneOf<"on" | "off" | "token">("status_page", ["on", "off", "token"]) ?? "on",
    maxConnections: h.int("max_connections", 1, 1_000_000) ?? DEFAULTS.http.maxConnections,
    maxPerClient: h.int("max_per_client", 1, 1_000_000) ?? DEFAULTS.http.maxPerClient,
    headerTimeoutMs: h.int("header_timeout_ms", 100, 600_000) ?? DEFAULTS.http.headerTimeoutMs,
    idleTimeoutMs: h.int("idle_timeout_ms", 100, 3_600_000) ?? DEFAULTS.http.idleTimeoutMs,
    pacing: h.read<Pacing>(
      "pacing",
      (v) =>
        v === "auto" || v === "off"
          ? v
          : typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 1_000_000
          ? v
          : { error: 'must be "auto", "off" or the link rate in Mbit/s (1-1000000)' },
    ) ?? DEFAULTS.http.pacing,
  };

  const b = s.sub("boot", BOOT_KEYS);
  const fileName = (v: unknown) =>
    typeof v === "string" && /^[A-Za-z0-9._+-]+$/.test(v)
      ? v
      : { error: "must be a file name in ipxe_dir" };
  const opt = (key: string) => {
    const v = b.str(key);
    return v === undefined ? {} : { [key]: v };
  };
  const boot = {
    ipxeDir: b.path_("ipxe_dir") ?? DEFAULTS.boot.ipxeDir,
    bios: b.read("bios", fileName) ?? DEFAULTS.boot.bios,
    efiX64: b.read("efi_x64", fileName) ?? DEFAULTS.boot.efiX64,
    efiX64Snp: b.bool("efi_x64_snp") ?? DEFAULTS.boot.efiX64Snp,
    efiArm64: b.read("efi_arm64", fileName) ?? DEFAULTS.boot.efiArm64,
    alpineBranch: b.read(
      "alpine_branch",
      (v) =>
        typeof v === "string" && /^(latest-stable|edge|v\d+\.\d+)$/.test(v)
          ? v
          : { error: 'must be "latest-stable", "edge" or like "v3.22"' },
    ) ?? DEFAULTS.boot.alpineBranch,
    ...opt("kernel"),
    ...opt("initramfs"),
    ...opt("modloop"),
    ...opt("cmdline"),
  };

  // control.socket: where the daemon's control socket goes (default: see daemon/control_protocol.ts)
  const controlSocket = s.sub("control", CONTROL_KEYS).path_("socket");
  const mi = s.sub("mirror", MIRROR_KEYS);
  const upstream = mi.read(
    "upstream",
    (v) =>
      typeof v === "string" && /^https?:\/\/[^\s]+$/.test(v)
        ? v.replace(/\/+$/, "")
        : { error: "must be an http(s) URL" },
  );
  const mirror = {
    dir: mi.path_("dir") ?? stateRel("mirror"),
    ...(upstream !== undefined ? { upstream } : {}),
  };

  // In file order, whatever order the sections were checked in.
  const issues: ConfigIssue[] = walker.issues.toSorted((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return {
    value: {
      stateDir,
      subnetPool,
      defaultSubnetSize,
      interfaces,
      scan,
      dhcp,
      tftp,
      http,
      boot,
      mirror,
      ...(controlSocket !== undefined ? { controlSocket } : {}),
    },
    issues,
  };
}
