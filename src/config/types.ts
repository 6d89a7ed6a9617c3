/**
 * @module
 * The /host0 model: settings from mesh.yaml (with host0.conf legacy keys and
 * defaults applied), machines, groups, VXLAN networks and package lists.
 */
import type { Cidr } from "../wire/mod.ts";

/** How a network interface is served. */
export const InterfaceMode = {
  /** Detect an existing DHCP server: proxy when one answers, server otherwise. */
  Auto: "auto",
  /** Authoritative DHCP server. */
  Server: "server",
  /** proxyDHCP only (another server hands out addresses). */
  Proxy: "proxy",
  /** Not served at all. */
  Off: "off",
} as const;
export type InterfaceMode = typeof InterfaceMode[keyof typeof InterfaceMode];

/** Who may download an overlay over HTTP. */
export const OverlayAccess = {
  /** Only a client whose IP holds a lease for that node. */
  Lease: "lease",
  /** Anyone who can reach the HTTP port. */
  Any: "any",
} as const;
export type OverlayAccess = typeof OverlayAccess[keyof typeof OverlayAccess];

/** An address with its prefix, e.g. 10.11.0.1/24 (host bits allowed). */
export interface InterfaceAddress {
  /** IPv4 as u32. */
  readonly ip: number;
  readonly prefix: number;
}

/**
 * Where a setting was written (file and 1-based line), kept so that checks
 * run after parsing (e.g. by the daemon against the subnets it planned) can
 * still name `file:line`. Absent on settings built in code.
 */
export interface SourceAt {
  readonly file: string;
  readonly line: number;
}

/** Where the located keys of one interface were written. */
export interface InterfaceSources {
  readonly address?: SourceAt;
  readonly router?: SourceAt;
  /** Where each `dns` entry was written, in the same order (undefined when not known). */
  readonly dns?: readonly (SourceAt | undefined)[];
}

/** Per-interface settings (`interfaces.<name>` in mesh.yaml). IPs are u32. */
export interface InterfaceSettings {
  readonly name: string;
  readonly mode: InterfaceMode;
  readonly address?: InterfaceAddress;
  readonly subnet?: Cidr;
  readonly pool?: { readonly start: number; readonly end: number };
  readonly router?: number;
  readonly dns?: readonly number[];
  readonly at?: InterfaceSources;
}

/** A fixed address for a node, by MAC or by node id. */
export interface Reservation {
  readonly mac?: string;
  readonly node?: string;
  readonly ip: number;
  readonly hostname?: string;
  /** Where its `ip` was written. */
  readonly at?: SourceAt;
}

/** What the rogue guard does when another server hands out addresses on a served segment. */
export type RogueActionSetting = "switch" | "stop" | "warn";
/** How proxyDHCP hands the boot file to a firmware: in its OFFER (option 43), or on port 4011. */
export type ProxyStrategySetting = "option43" | "port4011";

export interface DhcpSettings {
  readonly leaseTime: number;
  readonly domain?: string;
  readonly dns: readonly number[];
  /** `dnsAt[i]` is where `dns[i]` was written (absent when dns was not set). */
  readonly dnsAt?: readonly (SourceAt | undefined)[];
  readonly reservations: readonly Reservation[];
  /** `dhcp.rogue_action`: `switch` to proxyDHCP (default), `stop`, or `warn`. */
  readonly rogueAction: RogueActionSetting;
  /** `dhcp.proxy_bios` / `dhcp.proxy_uefi`: the proxyDHCP strategy per firmware. */
  readonly proxyBios: ProxyStrategySetting;
  readonly proxyUefi: ProxyStrategySetting;
}

export interface TftpSettings {
  readonly address: number;
  readonly port: number;
  readonly maxTransfers: number;
  readonly perClient: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly root: string;
}

export interface HttpSettings {
  readonly address: number;
  readonly port: number;
  /** Host or IP put into URLs; undefined means "the serving interface's address". */
  readonly publicHost?: string;
  readonly overlayAccess: OverlayAccess;
  /** Who may use the node API: `management` addresses (and loopback), or `any`. */
  readonly apiAccess: "management" | "any";
  readonly management: readonly Cidr[];
  /** File holding a bearer token that opens the node API from anywhere. */
  readonly apiTokenFile?: string;
  /**
   * The status page at `/`: `on` for the node API's audience (it shows node
   * identities), `token` for bearer-token holders only, `off` for nobody.
   */
  readonly statusPage: "on" | "off" | "token";
  /** Open connections at most, and per client address. */
  readonly maxConnections: number;
  readonly maxPerClient: number;
  /** A request head must arrive within this; a kept-alive connection idles this long. */
  readonly headerTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /**
   * Large downloads paced at fair shares of the link: `auto` takes the
   * interface's speed (none known: not paced), a number is the link rate in
   * Mbit/s, `off` never paces.
   */
  readonly pacing: Pacing;
}

/** `http.pacing`: see HttpSettings. */
export type Pacing = "auto" | "off" | number;

export interface BootSettings {
  readonly ipxeDir: string;
  readonly bios: string;
  readonly efiX64: string;
  readonly efiX64Snp: boolean;
  readonly efiArm64: string | null;
  readonly alpineBranch: string;
  readonly kernel?: string;
  readonly initramfs?: string;
  readonly modloop?: string;
  readonly cmdline?: string;
}

export interface MirrorSettings {
  readonly dir: string;
  readonly upstream?: string;
}

/** The ARP scan's timings (`scan` in mesh.yaml) and how long a segment away keeps its subnet. */
export interface ScanSettings {
  readonly probes: number;
  readonly intervalMs: number;
  readonly settleMs: number;
  readonly subnetHoldMs: number;
  /** How long the existing-DHCP probe listens per segment (0: no probe, `auto` stays undecided). */
  readonly dhcpProbeMs: number;
  /** How often the daemon scans and probes again unprompted (0: only on link changes and SIGHUP). */
  readonly reprobeMs: number;
}

/** Settings of the central node, every default applied, paths absolute or as given. */
export interface Settings {
  readonly stateDir: string;
  readonly subnetPool: readonly Cidr[];
  readonly defaultSubnetSize: number;
  readonly interfaces: Readonly<Record<string, InterfaceSettings>>;
  readonly scan: ScanSettings;
  readonly dhcp: DhcpSettings;
  readonly tftp: TftpSettings;
  readonly http: HttpSettings;
  readonly boot: BootSettings;
  readonly mirror: MirrorSettings;
  /** control.socket: the control socket's path, when mesh.yaml sets one. */
  readonly controlSocket?: string;
}

/** Manifest actions. */
export const ManifestAction = {
  Overwrite: "O",
  Append: "A",
  Link: "L",
  Directory: "D",
} as const;
export type ManifestAction = typeof ManifestAction[keyof typeof ManifestAction];

/** Owner and permissions of a manifest target. */
export interface FileMode {
  readonly uid: number;
  readonly gid: number;
  /** Names for the tar header ("" when only a number was given and it has no known name). */
  readonly user: string;
  readonly group: string;
  /** Permission bits, e.g. 0o644 (setuid/setgid/sticky allowed). */
  readonly perms: number;
}

/** One parsed manifest line, kept per source file (not merged). */
export interface ManifestLine {
  /** Manifest file as the user would type it. */
  readonly file: string;
  readonly line: number;
  readonly action: ManifestAction;
  /** O, A, D. */
  readonly mode?: FileMode;
  /**
   * O/A: the real path on this machine of the source file (the `/host0/` prefix
   * mapped onto the actual host0 dir). L: the link target on the node, as written.
   */
  readonly src?: string;
  /** SRC as written in the manifest (for messages). */
  readonly srcText?: string;
  /** Absolute, normalised path on the node. */
  readonly tgt: string;
}

/** A package list entry with where it came from. */
export interface PackageEntry {
  readonly name: string;
  readonly file: string;
  readonly line: number;
}

/** `machines/<folder>/`. */
export interface Machine {
  readonly folder: string;
  /** Directory as the user would type it (host0 dir joined). */
  readonly dir: string;
  /** 8 lower-case hex characters, or "default". */
  readonly id: string;
  readonly manifest: readonly ManifestLine[];
  readonly groups: readonly string[];
  readonly packages: readonly string[];
  /** Extra kernel arguments for this machine. */
  readonly cmdline?: string;
  /** A SKIP marker is present: nothing is built and its files are not validated. */
  readonly skip: boolean;
}

/** `groups/<name>/`. */
export interface Group {
  readonly name: string;
  readonly dir: string;
  readonly manifest: readonly ManifestLine[];
  readonly packages: readonly string[];
}

/** `network/<file>.conf`: one VXLAN mesh. */
export interface Network {
  readonly file: string;
  readonly name: string;
  /** Canonical IPv6 /64, e.g. "fd42:1234:5678:9abc::/64". */
  readonly prefix: string;
  /** `vni=`, or derived from the name when not set. */
  readonly vni: number;
  /** TCP port of the member list on `<prefix>::1` (default 8000). */
  readonly port: number;
  /** MTU of the tunnel and its bridge (default 1450). */
  readonly mtu: number;
  /** `nodes=`: machine folders, node ids and `group:<name>`; null: every node. */
  readonly nodes: readonly string[] | null;
  /** 1-based line of each key written, for checks made after parsing. */
  readonly at?: Readonly<Record<string, number>>;
}

/** What a workload volume is: a disk image (qcow2, raw) or a CD-ROM (iso). */
export type VolumeType = "qcow2" | "raw" | "iso";

/**
 * Where a volume comes from when its node-local path is missing: any http(s)
 * URL, or a file under the central node's served `/isos/` (`rel` below it).
 */
export type VolumeSource =
  | { readonly kind: "url"; readonly url: string }
  | { readonly kind: "isos"; readonly rel: string };

/** `platform.volume.<id>.*` of a workload. */
export interface WorkloadVolume {
  readonly id: string;
  readonly type: VolumeType;
  /** Absolute path on the node. */
  readonly path: string;
  readonly source?: VolumeSource;
}

/** `platform.network.<id>.*`: a NIC on a mesh's bridge (br<vni>) on the node. */
export interface WorkloadNic {
  readonly id: string;
  /** The mesh's name (a `network/*.conf`). */
  readonly mesh: string;
  /** An explicit MAC (lower-case colon form); otherwise one is derived from uuid and id. */
  readonly mac?: string;
}

/** `workloads/<name>.conf`: one KVM VM. */
export interface Workload {
  readonly file: string;
  readonly name: string;
  /** Unique per cluster; names the run directory on the node (and -uuid when it is a UUID). */
  readonly uuid: string;
  /** `platform.memory.size` as written ("4G") and in bytes. */
  readonly memory: { readonly text: string; readonly bytes: number };
  readonly cpu: { readonly threads: number; readonly mode: string };
  readonly volumes: readonly WorkloadVolume[];
  readonly networks: readonly WorkloadNic[];
  /** Serial console to a file (`path` absent: `<run dir>/console.log`), or none. */
  readonly console: { readonly serial: boolean; readonly path?: string };
  /** Where `name`, `uuid` and each network's `mesh` were written (for checks across files). */
  readonly at: {
    readonly name?: number;
    readonly uuid?: number;
    readonly mesh?: Readonly<Record<string, number>>;
  };
}

/** Everything in /host0, validated. */
export interface Host0 {
  /** The host0 dir as given to loadHost0. */
  readonly root: string;
  readonly settings: Settings;
  /** Sorted by folder name. */
  readonly machines: readonly Machine[];
  readonly groups: ReadonlyMap<string, Group>;
  readonly networks: readonly Network[];
  /** `workloads/*.conf`, sorted by name. */
  readonly workloads: readonly Workload[];
  /** Top-level package list (for the offline mirror). */
  readonly packages: readonly string[];
}
