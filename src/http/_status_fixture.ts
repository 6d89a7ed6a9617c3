/**
 * @module
 * Test fixture for the status page: an app over the in-memory registry with
 * a stored network map of three segments (one served in full, one proxied
 * beside another DHCP server, one off), fixture nodes at every stage, and a
 * node and a segment with hostile names. Used by the unit tests here, the
 * browser test and the 1,000-node measurement (tests/http/).
 */
import { nodeIdFor } from "../boot/mod.ts";
import { MemoryCatalog, MemoryLeases, MemoryRegistry } from "../testing/http_fakes.ts";
import { createApp, type HttpApp } from "./app.ts";
import { type ApiAccess, Stage, type StatusPageAccess } from "./deps.ts";
import type { MetricFamily } from "./metrics_text.ts";

export const HOSTILE = `<script>alert("x")</script>`;

/** Three segments as `mesh net show --json` stores them. */
export function fixtureSegments(): unknown[] {
  return [
    {
      id: "lab",
      interfaces: ["eth0", "eth1"],
      serving: "eth0",
      link: "up",
      subnet: "10.11.1.0/24",
      address: "10.11.1.1",
      neighbours: [{ mac: "52:54:00:00:00:09", ip: "10.11.1.9", interface: "eth0" }],
      seen: ["10.11.1.0/24"],
      dhcp: { servers: [] },
      configured: "auto",
      mode: "server",
      served: true,
      reason: "no other DHCP server answered the probe",
    },
    {
      id: "office",
      interfaces: ["eth2"],
      serving: "eth2",
      link: "up",
      subnet: "192.168.1.0/24",
      address: "192.168.1.50",
      neighbours: [],
      seen: ["192.168.1.0/24"],
      dhcp: {
        servers: [{
          serverId: "192.168.1.1",
          serverMac: "00:11:22:33:44:55",
          subnets: ["192.168.1.0/24"],
          proxy: false,
        }],
      },
      configured: "auto",
      mode: "proxy",
      served: true,
      reason: `192.168.1.1 hands out addresses: proxyDHCP ${HOSTILE}`,
    },
    {
      id: "spare",
      interfaces: ["eth3"],
      serving: null,
      link: "down",
      subnet: null,
      address: null,
      neighbours: [],
      seen: [],
      dhcp: null,
      configured: "off",
      mode: "off",
      served: false,
      reason: "mode off in mesh.yaml",
    },
  ];
}

const BOOT: readonly Stage[] = [
  Stage.Discovered,
  Stage.Dhcp,
  Stage.Firmware,
  Stage.Script,
  Stage.Kernel,
  Stage.Initrd,
  Stage.Apkovl,
  Stage.Online,
];

export function fixtureMac(i: number): string {
  const h = (n: number) => n.toString(16).padStart(2, "0");
  return `52:54:00:${h((i >> 16) & 255)}:${h((i >> 8) & 255)}:${h(i & 255)}`;
}

/**
 * Records node `i`'s boot up to `upTo` (DHCP and TFTP by MAC only, then the
 * script identifies it), each step `stepMs` after the one before.
 */
export function bootNode(
  registry: MemoryRegistry,
  i: number,
  upTo: Stage,
  t0: number,
  opts: { stepMs?: number; machine?: string; ip?: string } = {},
): string {
  const mac = fixtureMac(i);
  const id = nodeIdFor({ mac }).id;
  const ip = opts.ip ??
    (i % 4 === 3
      ? `192.168.1.${100 + (i % 150)}`
      : `10.11.${1 + Math.floor(i / 250)}.${10 + (i % 240)}`);
  const step = opts.stepMs ?? 700;
  const last = BOOT.indexOf(upTo);
  BOOT.slice(0, last + 1).forEach((stage, k) => {
    const named = k >= BOOT.indexOf(Stage.Script);
    registry.record({
      ...(named ? { nodeId: id } : {}),
      mac,
      ...(k >= 1 ? { ip } : {}),
      ...(stage === Stage.Script ? { machine: opts.machine ?? `web-${i % 7}` } : {}),
      stage,
      source: k <= 2 ? (k === 2 ? "tftp" : "dhcp") : "http",
      at: t0 + k * step + (k >= 4 ? 3 * step : 0), // the kernel takes longer
    });
  });
  return id;
}

/** Node 3 of seedNodes (it gets as far as its kernel, named by its script). */
export const HOSTILE_NODE = 3;

/** `count` nodes spread over every stage; node HOSTILE_NODE's machine is called HOSTILE. */
export function seedNodes(registry: MemoryRegistry, count: number, t0: number): void {
  for (let i = 0; i < count; i++) {
    const opts = i === HOSTILE_NODE ? { machine: HOSTILE } : {};
    bootNode(registry, i, BOOT[(i % 7) + 1]!, t0 + i * 50, opts);
  }
}

export interface StatusFixture {
  readonly app: HttpApp;
  readonly registry: MemoryRegistry;
  /** `app.request` from `ip` (loopback by default: the management audience). */
  req(path: string, init?: RequestInit, ip?: string): Promise<Response>;
  close(): void;
}

export function makeStatusFixture(opts: {
  statusPage?: StatusPageAccess;
  apiAccess?: ApiAccess;
  segments?: unknown[];
  metrics?: () => MetricFamily[];
  clock?: () => number;
} = {}): StatusFixture {
  const registry = new MemoryRegistry();
  const stop = new AbortController();
  const app = createApp({
    registry,
    catalog: new MemoryCatalog(),
    leases: new MemoryLeases(),
    config: {
      publicBase: "http://10.11.1.1",
      alpineBranch: "v3.20",
      kernelPath: "/boot/vmlinuz-lts",
      initrdPath: "/boot/initramfs-lts",
      modloopPath: "/boot/modloop-lts",
      repoPath: "/alpine/v3.20/main",
      overlayAccess: "lease",
      ...(opts.apiAccess ? { apiAccess: opts.apiAccess } : {}),
      ...(opts.statusPage ? { statusPage: opts.statusPage } : {}),
    },
    roots: { mirror: "/nonexistent", boot: "/nonexistent" },
    status: {
      segments: () => opts.segments ?? fixtureSegments(),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    },
    signal: stop.signal,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  return {
    app,
    registry,
    req: (path, init, ip = "127.0.0.1") =>
      Promise.resolve(
        app.request(`http://10.11.1.1${path}`, init, { remoteAddr: { hostname: ip } }),
      ),
    close() {
      stop.abort();
      registry.close();
    },
  };
}
