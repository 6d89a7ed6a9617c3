/**
 * HTTP benchmark: both of our engines (sendfile, deno) against nginx, in the
 * same run, in a lab (server and client namespaces joined by a veth bridge).
 *  - throughput for a 64 MiB file (curl -o /dev/null, median of several runs)
 *  - requests/s for a 4 KiB file with 50 connections (wrk)
 * Prints a table with each figure and the ratio ours/nginx (per engine). Needs root, nginx,
 * curl and wrk. Run: deno run -A bench/http.ts
 */
import { createLab, labSkipReason } from "../tests/lib/netns.ts";
import { startLabServer } from "../tests/http/_lab_server.ts";

const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 9);
const WRK_SECONDS = Number(Deno.env.get("BENCH_WRK_SECONDS") ?? 5);
const WRK_RUNS = Number(Deno.env.get("BENCH_WRK_RUNS") ?? 2);
const BIG = 64 * 1024 * 1024;
const SMALL = 4096;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function fill(size: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = 1;
  for (let i = 0; i < size; i += 4096) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x;
  }
  return b;
}

async function main(): Promise<number> {
  const skip = labSkipReason(["nginx", "curl", "wrk"]);
  if (skip !== null) {
    console.log(`bench/http: skipped (${skip})`);
    return 0;
  }
  const dir = await Deno.makeTempDir({ prefix: "mesh-bench-http-" });
  try {
    await Deno.mkdir(`${dir}/www/boot`, { recursive: true });
    await Deno.mkdir(`${dir}/mirror`);
    await Deno.mkdir(`${dir}/nginx`);
    await Deno.writeFile(`${dir}/www/boot/big.bin`, fill(BIG));
    await Deno.writeFile(`${dir}/www/boot/small.bin`, fill(SMALL));
    await Deno.writeTextFile(
      `${dir}/nginx/nginx.conf`,
      [
        "user root;",
        "worker_processes 1;",
        `pid ${dir}/nginx/nginx.pid;`,
        `error_log ${dir}/nginx/error.log;`,
        "events { worker_connections 1024; }",
        "http {",
        "  access_log off;",
        "  sendfile on; tcp_nopush on; keepalive_requests 100000;",
        "  default_type application/octet-stream;",
        `  client_body_temp_path ${dir}/nginx/body; proxy_temp_path ${dir}/nginx/proxy;`,
        `  fastcgi_temp_path ${dir}/nginx/fcgi; uwsgi_temp_path ${dir}/nginx/uwsgi; scgi_temp_path ${dir}/nginx/scgi;`,
        `  server { listen 8080; root ${dir}/www; autoindex off; }`,
        // same copy path as ours (read + write); shows what sendfile buys nginx
        `  server { listen 8081; root ${dir}/www; autoindex off; sendfile off; }`,
        "}",
        "",
      ].join("\n"),
    );
    await using lab = await createLab("hbn", [
      { name: "srv", address: "10.79.0.1/24" },
      { name: "cli", address: "10.79.0.2/24" },
    ]);
    // one server per engine, same app and files
    for (const [engine, port] of [["sendfile", 80], ["deno", 81]] as const) {
      await startLabServer(lab, "srv", {
        hostname: "0.0.0.0",
        port,
        publicBase: "http://10.79.0.1",
        mirror: `${dir}/mirror`,
        boot: `${dir}/www/boot`,
        kernelPath: "/boot/vmlinuz-lts",
        initrdPath: "/boot/initramfs-lts",
        overlayAccess: "lease",
        overlays: {},
        leases: {},
        log: false,
        engine,
      });
    }
    lab.spawn("srv", ["nginx", "-c", `${dir}/nginx/nginx.conf`, "-g", "daemon off;"], {
      stderr: "inherit",
    });
    const servers = {
      sendfile: "http://10.79.0.1:80",
      deno: "http://10.79.0.1:81",
      nginx: "http://10.79.0.1:8080",
      nginxNoSendfile: "http://10.79.0.1:8081",
    } as const;
    // wait for nginx
    for (let i = 0; i < 50; i++) {
      const r = await lab.exec("cli", [
        "curl",
        "-sf",
        "-o",
        "/dev/null",
        `${servers.nginx}/boot/small.bin`,
      ]);
      if (r.code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // runs alternate between the servers, so background load on the machine
    // hits both alike; medians of the alternating runs are compared
    const speeds: Record<keyof typeof servers, number[]> = {
      sendfile: [],
      deno: [],
      nginx: [],
      nginxNoSendfile: [],
    };
    for (const base of Object.values(servers)) {
      await lab.exec("cli", ["curl", "-sf", "-o", "/dev/null", `${base}/boot/big.bin`]); // warm-up (page cache)
    }
    for (let i = 0; i < RUNS; i++) {
      for (const [name, base] of Object.entries(servers) as [keyof typeof servers, string][]) {
        const r = await lab.exec("cli", [
          "curl",
          "-sf",
          "-o",
          "/dev/null",
          "-w",
          "%{speed_download} %{size_download}",
          `${base}/boot/big.bin`,
        ]);
        const [speed, size] = r.stdout.trim().split(" ").map(Number);
        if (r.code !== 0 || size !== BIG) {
          throw new Error(`${name}: 64 MiB download failed: ${r.stderr}`);
        }
        speeds[name].push(speed! / (1024 * 1024));
      }
    }
    const rps: Partial<Record<keyof typeof servers, number>> = {};
    // alternate wrk runs too; the best of WRK_RUNS per server is kept
    for (let i = 0; i < WRK_RUNS; i++) {
      for (const name of ["sendfile", "deno", "nginx"] as const) {
        const wrk = await lab.exec("cli", [
          "wrk",
          "-t2",
          "-c50",
          `-d${WRK_SECONDS}s`,
          `${servers[name]}/boot/small.bin`,
        ], { timeoutMs: (WRK_SECONDS + 30) * 1000 });
        const r = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? NaN);
        if (/Non-2xx/.test(wrk.stdout) || /Socket errors/.test(wrk.stdout)) {
          console.log(`${name} wrk:\n${wrk.stdout}`);
        }
        rps[name] = Math.max(rps[name] ?? 0, r);
      }
    }
    const mibs = (name: keyof typeof servers) => median(speeds[name]);
    const row = (label: string, a: number, b: number, unit: string) =>
      `${label.padEnd(44)} ${a.toFixed(1).padStart(10)} ${b.toFixed(1).padStart(10)}  ${
        unit.padEnd(6)
      } ${(a / b).toFixed(2).padStart(6)}`;
    console.log(
      `${"".padEnd(44)} ${"ours".padStart(10)} ${"nginx".padStart(10)}  ${"unit".padEnd(6)} ${
        "ratio".padStart(6)
      }`,
    );
    const big = `64 MiB file, median of ${RUNS} (curl)`;
    const small = `4 KiB file, 50 conns ${WRK_SECONDS}s (wrk)`;
    console.log(row(`sendfile engine: ${big}`, mibs("sendfile"), mibs("nginx"), "MiB/s"));
    console.log(row(`deno engine:     ${big}`, mibs("deno"), mibs("nginx"), "MiB/s"));
    console.log(row(`sendfile engine: ${small}`, rps.sendfile!, rps.nginx!, "req/s"));
    console.log(row(`deno engine:     ${small}`, rps.deno!, rps.nginx!, "req/s"));
    console.log(
      row(
        "deno engine: 64 MiB vs nginx sendfile off",
        mibs("deno"),
        mibs("nginxNoSendfile"),
        "MiB/s",
      ),
    );
    return 0;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main());
