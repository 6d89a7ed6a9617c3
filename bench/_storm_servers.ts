/**
 * @module
 * The servers bench/storm.ts compares, each started in the lab's server
 * namespace: `mesh serve` on a /host0 made for the bench, and dnsmasq
 * (DHCP + TFTP, default options or tuned) with nginx for HTTP serving the
 * same files, a static boot script and a 204 for the online report.
 */
import {
  installLabBootFiles,
  startDaemon,
  stopDaemon,
  writeLabHost0,
} from "../tests/lib/mesh_daemon.ts";
import type { Lab } from "../tests/lib/netns.ts";
import { writeStandInOverlay } from "../tests/lib/stand_in.ts";
import { POOL, SRV } from "./_storm_lab.ts";

export const SERVER_NAMES = ["mesh", "dnsmasq", "dnsmasq-tuned"] as const;
export type ServerName = typeof SERVER_NAMES[number];

export interface BootFiles {
  readonly kernel: string;
  readonly initrd: string;
}

export interface Running {
  /** PIDs whose process trees are the server (sampled for memory and CPU). */
  readonly pids: number[];
  /** Stops the server (the lab's cleanup kills whatever is left). */
  stop(): Promise<void>;
  /** Lines worth showing when the run failed. */
  diagnostics(): Promise<string>;
  /** The server's log lines by kind, with counts (for the JSON report). */
  logKinds(): Promise<Record<string, number>>;
  /** The server's own counters (mesh's /metrics, histogram buckets left out); {} for others. */
  metrics(): Promise<Record<string, number>>;
}

function count(kinds: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of kinds) out[k] = (out[k] ?? 0) + 1;
  return out;
}

export async function startServer(
  name: ServerName,
  lab: Lab,
  dir: string,
  files: BootFiles,
  nodes: number,
  linkBits: number,
): Promise<Running> {
  return name === "mesh"
    ? await startMesh(lab, dir, files, linkBits)
    : await startDnsmasqNginx(lab, dir, files, name === "dnsmasq-tuned", nodes);
}

async function startMesh(
  lab: Lab,
  dir: string,
  files: BootFiles,
  linkBits: number,
): Promise<Running> {
  const host0 = `${dir}/host0`;
  const state = `${dir}/state`;
  // A veth reports 10 Gbit/s whatever tbf makes of it: mesh is told the
  // shaped rate, as a real NIC would report its speed (http.pacing: auto).
  const pacing = `http:\n  pacing: ${Math.round(linkBits / 1e6)}\n`;
  await writeLabHost0(host0, { state, srv: SRV, pool: POOL, extraYaml: pacing });
  await installLabBootFiles(state, files);
  const d = startDaemon(lab, "srv", host0);
  await d.ready;
  return {
    pids: [d.child.pid],
    async stop() {
      await stopDaemon(d);
    },
    diagnostics() {
      const bad = d.logs.filter((r) => r.level !== "INFO" && r.level !== "DEBUG");
      return Promise.resolve(bad.slice(-15).map((r) => JSON.stringify(r)).join("\n"));
    },
    logKinds() {
      return Promise.resolve(count(d.logs.map((r) => `${r.level} ${r.message}`)));
    },
    async metrics() {
      // Loopback is a management address: /metrics answers it without a token.
      const r = await lab.exec("srv", ["curl", "-s", "-m", "10", "http://127.0.0.1/metrics"]);
      const out: Record<string, number> = {};
      for (const line of r.stdout.split("\n")) {
        const m = /^(mesh_\S+)\s+(\S+)$/.exec(line);
        if (m && !m[1]!.includes("_bucket")) out[m[1]!] = Number(m[2]);
      }
      return out;
    },
  };
}

function dnsmasqConf(root: string, tuned: boolean, nodes: number): string {
  return [
    "port=0",
    "user=root",
    "interface=eth0",
    "bind-interfaces",
    "dhcp-authoritative",
    `dhcp-range=${POOL[0]},${POOL[1]},255.255.0.0,1h`,
    `dhcp-leasefile=${root}/dnsmasq.leases`,
    `pid-file=${root}/dnsmasq.pid`,
    `log-facility=${root}/dnsmasq.log`,
    "dhcp-userclass=set:ipxe,iPXE",
    "dhcp-match=set:ipxe,175",
    "dhcp-option=tag:ipxe,encap:175,176,1b",
    `dhcp-boot=tag:ipxe,http://${SRV}/boot.ipxe`,
    "enable-tftp",
    `tftp-root=${root}/tftp`,
    "dhcp-vendorclass=set:pxe,PXEClient",
    "dhcp-match=set:efi64,option:client-arch,7",
    "dhcp-match=set:efi64,option:client-arch,9",
    "dhcp-boot=tag:pxe,tag:!ipxe,tag:!efi64,undionly.kpxe",
    "dhcp-boot=tag:pxe,tag:!ipxe,tag:efi64,snponly.efi",
    // Default dnsmasq pings each new address and serves 50 TFTP transfers at once.
    ...(tuned ? ["no-ping", `tftp-max=${nodes + 50}`] : []),
  ].join("\n") + "\n";
}

function nginxConf(root: string): string {
  return `# written by bench/storm.ts
user root;
worker_processes auto;
daemon off;
pid ${root}/nginx.pid;
error_log ${root}/nginx-error.log warn;
events { worker_connections 8192; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_timeout 65;
  default_type application/octet-stream;
  client_body_temp_path ${root}/tmp/body;
  proxy_temp_path ${root}/tmp/proxy;
  fastcgi_temp_path ${root}/tmp/fastcgi;
  uwsgi_temp_path ${root}/tmp/uwsgi;
  scgi_temp_path ${root}/tmp/scgi;
  server {
    listen ${SRV}:80;
    root ${root}/www;
    location = /api/v1/report/online { return 204; }
  }
}
`;
}

async function startDnsmasqNginx(
  lab: Lab,
  root: string,
  files: BootFiles,
  tuned: boolean,
  nodes: number,
): Promise<Running> {
  await Deno.mkdir(`${root}/www/ovl`, { recursive: true });
  await Deno.mkdir(`${root}/tftp`, { recursive: true });
  await Deno.mkdir(`${root}/tmp`, { recursive: true });
  await Deno.copyFile(files.kernel, `${root}/www/vmlinuz`);
  await Deno.copyFile(files.initrd, `${root}/www/initrd.gz`);
  for (const f of ["undionly.kpxe", "snponly.efi"]) {
    await Deno.copyFile(`/usr/lib/ipxe/${f}`, `${root}/tftp/${f}`);
  }
  // The same chain as mesh's script: kernel with apkovl=, initrd, boot.
  await Deno.writeTextFile(
    `${root}/www/boot.ipxe`,
    `#!ipxe\nkernel http://${SRV}/vmlinuz initrd=initrd.gz ip=dhcp BOOTIF=01-\${net0/mac:hexhyp} ` +
      `apkovl=http://${SRV}/ovl/default.tar.gz modules=loop,squashfs quiet\n` +
      `initrd http://${SRV}/initrd.gz\nboot\n`,
  );
  await writeStandInOverlay(root, "default", {
    "etc/hostname": "node\n",
    "etc/apk/world": "alpine-base\n",
    "etc/mesh/node-id": "default\n",
  });
  await Deno.writeTextFile(`${root}/dnsmasq.conf`, dnsmasqConf(root, tuned, nodes));
  await Deno.writeTextFile(`${root}/nginx.conf`, nginxConf(root));
  const dm = lab.spawn("srv", [
    "dnsmasq",
    "--keep-in-foreground",
    `--conf-file=${root}/dnsmasq.conf`,
  ]);
  const ng = lab.spawn("srv", ["nginx", "-c", `${root}/nginx.conf`], { stderr: "inherit" });
  const log = () => Deno.readTextFile(`${root}/dnsmasq.log`).catch(() => "");
  for (let i = 0; i < 100; i++) {
    const probe = await lab.exec("srv", [
      ...["curl", "-sS", "-o", "/dev/null", "-m", "2"],
      `http://${SRV}/boot.ipxe`,
    ]);
    if (probe.code === 0 && (await log()).includes("TFTP root")) {
      return {
        pids: [dm.pid, ng.pid],
        async stop() {
          for (const c of [ng, dm]) {
            try {
              c.kill("SIGTERM");
            } catch { /* gone */ }
          }
          await Promise.race([
            Promise.all([dm.status, ng.status]),
            new Promise((r) => setTimeout(r, 5000)),
          ]);
        },
        metrics: () => Promise.resolve({}),
        async logKinds() {
          // "dnsmasq-tftp[1]: sent /x to 10.97.1.2" -> "dnsmasq-tftp sent"
          const kinds = (await log()).split("\n").map((l) =>
            /(dnsmasq[a-z-]*)\[\d+\]: (\S+)/.exec(l)?.slice(1, 3).join(" ").replace(/\(.*$/, "")
          );
          return count(kinds.filter((k): k is string => k !== undefined));
        },
        async diagnostics() {
          const err = await Deno.readTextFile(`${root}/nginx-error.log`).catch(() => "");
          const tail = (await log()).trim().split("\n").slice(-10).join("\n");
          return `dnsmasq log (tail):\n${tail}\nnginx errors (tail):\n${
            err.trim().split("\n").slice(-10).join("\n")
          }`;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`dnsmasq/nginx did not start: ${(await log()).slice(-500)}`);
}
