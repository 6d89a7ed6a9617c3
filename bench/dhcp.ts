/**
 * DHCP benchmark: perfdhcp (Kea's load generator) in a client namespace
 * against our server (durable leases in SQLite), Kea (memfile) and dnsmasq,
 * one after another on the same namespace pair and the same pool. Prints
 * 4-way exchanges (DORA) per second, drop percentages and the ratio to Kea.
 *
 *   deno run -A bench/dhcp.ts [--seconds 10] [--rate 6000] [--clients 4000]
 */
import { createLab, labSkipReason } from "../tests/lib/netns.ts";
import { startFixture } from "../tests/dhcp/_fixture_client.ts";

function flag(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}
const SECONDS = flag("seconds", 10);
const RATE = flag("rate", 6000);
const CLIENTS = flag("clients", 4000);
const SUBNET = "10.88.0.0/16";
const START = "10.88.1.1";
const END = "10.88.40.254";

interface Result {
  readonly server: string;
  readonly rate: number;
  readonly sent: number;
  readonly drops: number;
  readonly note?: string;
}

function parsePerfdhcp(out: string): { rate: number; sent: number; drops: number } {
  const rate = Number(/Rate:\s*([\d.]+)\s*4-way exchanges\/second/.exec(out)?.[1] ?? 0);
  // Two exchange blocks (DISCOVER-OFFER, REQUEST-ACK); take the worst drop ratio.
  const sent = [...out.matchAll(/sent packets:\s*(\d+)/g)].map((m) => Number(m[1]));
  const drops = [...out.matchAll(/drops ratio:\s*([\d.]+)\s*%/g)].map((m) => Number(m[1]));
  return { rate, sent: sent[0] ?? 0, drops: drops.length ? Math.max(...drops) : 100 };
}

async function main(): Promise<number> {
  const skip = labSkipReason(["perfdhcp"]);
  if (skip) {
    console.error(`bench/dhcp: skipped: ${skip}`);
    return 0;
  }
  const dir = await Deno.makeTempDir({ prefix: "mesh-bench-dhcp-" });
  const results: Result[] = [];
  try {
    const servers: [string, (lab: Awaited<ReturnType<typeof createLab>>) => Promise<void>][] = [
      ["mesh (SQLite, durable)", async (lab) => {
        await startFixture(lab, "srv", {
          db: `${dir}/mesh.db`,
          interfaces: [{ name: "eth0", serverIp: "10.88.0.1", subnet: SUBNET }],
          pools: [{ subnet: SUBNET, start: START, end: END, leaseSeconds: 3600 }],
          statsEveryMs: 5000,
        });
      }],
      ["kea-dhcp4 (memfile)", async (lab) => {
        const conf = {
          Dhcp4: {
            "interfaces-config": { interfaces: ["eth0"], "dhcp-socket-type": "raw" },
            "lease-database": {
              type: "memfile",
              persist: true,
              name: `${dir}/kea-leases.csv`,
              "lfc-interval": 0,
            },
            "valid-lifetime": 3600,
            subnet4: [{ id: 1, subnet: SUBNET, pools: [{ pool: `${START} - ${END}` }] }],
            loggers: [{
              name: "kea-dhcp4",
              severity: "WARN",
              output_options: [{ output: `${dir}/kea.log` }],
            }],
          },
        };
        await Deno.writeTextFile(`${dir}/kea.json`, JSON.stringify(conf));
        lab.spawn("srv", ["kea-dhcp4", "-c", `${dir}/kea.json`], {
          env: { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir },
        });
        await new Promise((r) => setTimeout(r, 1500));
      }],
      ["dnsmasq", async (lab) => {
        lab.spawn("srv", [
          "dnsmasq",
          "-k",
          "--port=0",
          "--user=root",
          "--bind-interfaces",
          "--interface=eth0",
          "--dhcp-authoritative",
          "--no-ping",
          "--dhcp-lease-max=1000000",
          `--dhcp-range=${START},${END},255.255.0.0,1h`,
          `--dhcp-leasefile=${dir}/dnsmasq.leases`,
          `--pid-file=${dir}/dnsmasq.pid`,
        ]);
        await new Promise((r) => setTimeout(r, 1000));
      }],
    ];
    for (const [name, start] of servers) {
      // A fresh lab per server: same addresses, no state carried over.
      await using lab = await createLab("bdh", [{ name: "srv", address: "10.88.0.1/16" }, {
        name: "cli",
        // perfdhcp works as a relay: it needs an address and gets replies at giaddr:67.
        address: "10.88.0.2/16",
      }]);
      await start(lab);
      const r = await lab.exec("cli", [
        "perfdhcp",
        "-4",
        "-l",
        "eth0",
        "-r",
        String(RATE),
        "-R",
        String(CLIENTS),
        "-p",
        String(SECONDS),
      ], { timeoutMs: (SECONDS + 20) * 1000 });
      const p = parsePerfdhcp(r.stdout);
      results.push({
        server: name,
        ...p,
        ...(p.rate === 0 ? { note: r.stderr.trim().split("\n").pop() } : {}),
      });
      await lab.cleanup();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const kea = results.find((r) => r.server.startsWith("kea"))?.rate ?? 0;
  console.log(
    `\nDHCP DORA benchmark: perfdhcp -r ${RATE} -R ${CLIENTS} -p ${SECONDS}s, one netns pair, 2 shared cores`,
  );
  console.log("server                     DORA/s     drops %   vs Kea");
  for (const r of results) {
    const ratio = kea > 0 ? (r.rate / kea).toFixed(2) : "n/a";
    console.log(
      `${r.server.padEnd(26)} ${r.rate.toFixed(0).padStart(7)}   ${
        r.drops.toFixed(2).padStart(7)
      }   ${ratio.padStart(6)}` +
        (r.note ? `  (${r.note})` : ""),
    );
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
