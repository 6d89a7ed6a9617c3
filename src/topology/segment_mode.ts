/**
 * @module
 * What mesh does on a segment (pure): full DHCP, proxyDHCP, or nothing, from
 * mesh.yaml's mode, the link, what the existing-DHCP probe found and what the
 * rogue guard saw. The rule that matters most: where another server hands out
 * addresses, `auto` never starts full DHCP.
 */

/** A port's mode from mesh.yaml (`auto` when it is not named there). */
export type PortMode = "auto" | "server" | "proxy" | "off";

/** What mesh does on a segment now. `auto` is undecided: no carrier, or no probe yet. */
export type SegmentMode = PortMode;

/** A DHCP server the probe found on a segment. */
export interface ExistingServer {
  readonly serverId: string;
  readonly serverMac: string;
  /** Subnets it offers addresses in (CIDR). */
  readonly subnets: readonly string[];
  /** A proxyDHCP: it adds boot information, it hands out no addresses. */
  readonly proxy: boolean;
  readonly routers?: readonly string[];
  readonly dns?: readonly string[];
  readonly leaseTime?: number | null;
}

/** What the existing-DHCP probe found on a segment. */
export interface ExistingDhcp {
  readonly servers: readonly ExistingServer[];
}

/** The rogue guard saw another server hand out addresses on a segment we served. */
export interface GuardSighting {
  readonly serverId: string;
  readonly serverMac: string;
  readonly action: "switch" | "stop" | "warn";
}

export interface ModeInput {
  /** The modes of the segment's ports. */
  readonly configured: readonly PortMode[];
  readonly link: "up" | "down";
  /** Undefined: not probed. */
  readonly dhcp?: ExistingDhcp;
  readonly guard?: GuardSighting;
}

export interface ModeDecision {
  readonly mode: SegmentMode;
  /** Whether mesh serves the segment in that mode (given an address and subnet). */
  readonly serve: boolean;
  readonly reason: string;
}

/** The segment's mode from mesh.yaml: the strongest of its ports', `off` only when all are. */
export function configuredMode(modes: readonly PortMode[]): PortMode {
  const set = new Set(modes);
  for (const m of ["server", "proxy", "auto"] as const) if (set.has(m)) return m;
  return "off";
}

/** Address servers (not proxies) among the probe's finds. */
export function addressServers(dhcp: ExistingDhcp | undefined): readonly ExistingServer[] {
  return (dhcp?.servers ?? []).filter((s) => !s.proxy);
}

const named = (s: { serverId: string; serverMac: string }) => `${s.serverId} (${s.serverMac})`;

/** Decides the segment's mode. */
export function decideMode(input: ModeInput): ModeDecision {
  const configured = configuredMode(input.configured);
  if (configured === "off") return { mode: "off", serve: false, reason: "mode off in mesh.yaml" };
  if (input.link === "down") {
    return { mode: configured, serve: false, reason: "no carrier on any port" };
  }
  const g = input.guard;
  if (g !== undefined && g.action === "switch") {
    return {
      mode: "proxy",
      serve: true,
      reason: `guard: DHCP server ${named(g)} hands out addresses here; proxyDHCP until SIGHUP`,
    };
  }
  if (g !== undefined && g.action === "stop") {
    return {
      mode: "off",
      serve: false,
      reason: `guard: DHCP server ${named(g)} hands out addresses here; stopped until SIGHUP`,
    };
  }
  const others = addressServers(input.dhcp);
  const seen = others.length > 0 ? `DHCP server ${others.map(named).join(", ")} answers here` : "";
  if (configured === "server") {
    const warn = g !== undefined ? `; guard saw ${named(g)}` : seen ? `; ${seen}` : "";
    return { mode: "server", serve: true, reason: `mode server in mesh.yaml${warn}` };
  }
  if (configured === "proxy") {
    return { mode: "proxy", serve: true, reason: "mode proxy in mesh.yaml" };
  }
  if (input.dhcp === undefined) {
    return { mode: "auto", serve: false, reason: "auto: not probed for DHCP servers yet" };
  }
  if (others.length > 0) return { mode: "proxy", serve: true, reason: `auto: ${seen}` };
  return { mode: "server", serve: true, reason: "auto: no DHCP server answered" };
}
