/**
 * The boot-storm load generator of bench/storm.ts, run with `ip netns exec`
 * inside the client namespace: one process walks every simulated node along
 * the PXE path (firmware DHCP, TFTP of iPXE, DHCP as iPXE, the HTTP script,
 * kernel and initrd, DHCP as the Alpine initramfs, the overlay, the online
 * report). DHCP goes out as raw frames with the node's own MAC; after each
 * ACK the leased address is put on the shared interface, so TFTP and HTTP
 * leave from it (servers identify nodes by their lease), and it is removed
 * before the next stage's DHCP, as a rebooting stack has no address yet.
 *
 *   deno run -A bench/_storm_gen.ts <config.json>     (see GenConfig)
 */
import { nodeIdFor } from "../src/boot/mod.ts";
import { addAddress, deleteAddress } from "../src/net/mod.ts";
import { formatIpv4 } from "../src/wire/mod.ts";
import { DhcpMux, type Flavor } from "./_storm_dhcp.ts";
import { dora } from "./_storm_dora.ts";
import { HttpFailed, httpGet } from "./_storm_http.ts";
import { apkovlUrl, expandSettings, type IpxeSettings, parseScript } from "./_storm_ipxe.ts";
import { tftpGet } from "./_storm_tftp.ts";
import {
  epochMs,
  type GenConfig,
  type GenResult,
  type NodeResult,
  type NodeSpec,
  type Stage,
  type StageRecord,
} from "./_storm_types.ts";

const cfg = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as GenConfig;
const ifindex = Number(await Deno.readTextFile(`/sys/class/net/${cfg.iface}/ifindex`));
const mux = new DhcpMux(cfg.iface);
const t0 = epochMs();
const deadline = performance.now() + cfg.boundMs;

class NodeFailed extends Error {}

async function bootNode(spec: NodeSpec, r: NodeResult): Promise<void> {
  await new Promise((res) => setTimeout(res, Math.random() * cfg.spreadMs));
  r.start = epochMs();
  const stage = async <T>(name: Stage, fn: (s: StageRecord) => Promise<T>): Promise<T> => {
    const s: StageRecord = {
      stage: name,
      start: epochMs(),
      end: 0,
      ok: false,
      bytes: 0,
      retries: 0,
    };
    r.stages.push(s);
    try {
      const v = await fn(s);
      s.ok = true;
      return v;
    } catch (e) {
      s.error = e instanceof Error ? e.message : String(e);
      throw new NodeFailed(`${name}: ${s.error}`);
    } finally {
      s.end = epochMs();
    }
  };
  let ip = 0;
  // Each DHCP client of the chain starts from a stack without an address.
  const dhcp = (name: Stage, flavor: Flavor) =>
    stage(name, async (s) => {
      if (ip !== 0) await deleteAddress(ifindex, ip, 32);
      ip = 0;
      const got = await dora(mux, spec, flavor, deadline, () => s.retries++);
      if (got === null) throw new Error("no lease");
      s.offerMs = got.offerMs;
      s.ackMs = got.ackMs;
      ip = got.ip;
      r.ip = formatIpv4(ip);
      await addAddress(ifindex, ip, 32);
      return got;
    });
  const settings = (): IpxeSettings => ({
    mac: spec.mac,
    uuid: spec.uuid,
    ip: r.ip,
    arch: spec.arch,
  });
  let client: Deno.HttpClient | null = null;
  const get = async (s: StageRecord, url: string, keep = false) => {
    let got;
    try {
      got = await httpGet(client!, url, deadline, keep, spec.arch);
    } catch (e) {
      if (e instanceof HttpFailed) r.httpErrors += e.errors;
      throw e;
    }
    s.bytes += got.bytes;
    s.retries += got.errors;
    r.httpErrors += got.errors;
    return got;
  };
  try {
    const pxe = await dhcp("dhcp-pxe", "pxe");
    await stage("tftp", async (s) => {
      const server = formatIpv4(pxe.siaddr || pxe.server);
      if (pxe.file === "") throw new Error("the offer names no boot file");
      const t = await tftpGet(r.ip, server, pxe.file, spec.blksize);
      s.bytes = t.bytes;
      s.retries = t.retransmits;
      s.firstMs = t.firstMs;
      if (!t.ok) throw new Error(`tftp ${server} ${pxe.file}: ${t.error}`);
    });
    const ipxe = await dhcp("dhcp-ipxe", "ipxe");
    client = Deno.createHttpClient({ localAddress: r.ip });
    const plan = await stage("script", async (s) => {
      if (!ipxe.file.includes("://")) throw new Error(`no script URL (file "${ipxe.file}")`);
      // iPXE expands settings in the DHCP filename before it fetches it.
      let url = expandSettings(ipxe.file, settings());
      for (let depth = 0; depth < 4; depth++) {
        const text = (await get(s, url, true)).text ?? "";
        const p = parseScript(text, url, settings());
        if (p.chain === undefined) return p;
        url = p.chain;
      }
      throw new Error("chain nested too deep");
    });
    if (plan.kernel === undefined || plan.initrds.length === 0) {
      throw new NodeFailed("script: no kernel or initrd line");
    }
    const kernel = plan.kernel;
    await stage("kernel", (s) => get(s, kernel.url));
    await stage("initrd", async (s) => {
      for (const u of plan.initrds) await get(s, u);
    });
    client.close();
    client = null;
    await dhcp("dhcp-linux", "linux");
    client = Deno.createHttpClient({ localAddress: r.ip });
    const ovl = apkovlUrl(kernel.args, spec.mac);
    if (ovl === undefined) throw new NodeFailed("overlay: the kernel line has no apkovl=");
    await stage("overlay", async (s) => {
      if ((await get(s, ovl)).bytes === 0) throw new Error("empty overlay");
    });
    await stage("report", (s) => get(s, `${new URL(ovl).origin}/api/v1/report/online?id=${r.id}`));
    r.online = true;
    r.onlineAt = epochMs();
  } catch (e) {
    r.error = e instanceof Error ? e.message : String(e);
  } finally {
    client?.close();
  }
}

const results: NodeResult[] = cfg.nodes.map((n) => ({
  mac: n.mac,
  arch: n.arch,
  blksize: n.blksize,
  ip: "",
  id: nodeIdFor({ uuid: n.uuid, mac: n.mac }).id,
  start: 0,
  online: false,
  httpErrors: 0,
  stages: [],
}));
// The generator's own event-loop lag: a late timer here means late ACKs and
// requests, which would be charged to the server.
const lagMs: number[] = [];
let lagLast = performance.now();
const lagTimer = setInterval(() => {
  const now = performance.now();
  lagMs.push(now - lagLast - 100);
  lagLast = now;
}, 100);
const progress = setInterval(() => {
  const online = results.filter((r) => r.online).length;
  const failed = results.filter((r) => r.error !== undefined).length;
  const at = new Map<string, number>();
  for (const r of results) {
    if (r.online || r.error !== undefined) continue;
    const s = r.stages.at(-1)?.stage ?? "waiting";
    at.set(s, (at.get(s) ?? 0) + 1);
  }
  const t = ((epochMs() - t0) / 1000).toFixed(0);
  const busy = [...at].map(([k, v]) => `${k}:${v}`).join(" ");
  console.error(`  storm ${t}s: online ${online}/${results.length} failed ${failed} ${busy}`);
}, 5000);
/** Writes what the nodes did so far (also when stopped early: then the rest has failed). */
function writeResult(): void {
  const lag = lagMs.toSorted((a, b) => a - b);
  for (const r of results) if (!r.online) r.error ??= "stopped before it was online";
  const out: GenResult = {
    t0,
    end: epochMs(),
    nodes: results,
    dhcpSendErrors: mux.sendErrors,
    dhcpDecodeErrors: mux.decodeErrors,
    lagP99Ms: lag[Math.floor(lag.length * 0.99)] ?? NaN,
    lagMaxMs: lag.at(-1) ?? NaN,
  };
  Deno.writeTextFileSync(cfg.out, JSON.stringify(out));
}
// bench/storm.ts stops a generator that overruns with SIGTERM before SIGKILL.
Deno.addSignalListener("SIGTERM", () => {
  writeResult();
  Deno.exit(1);
});
await Promise.all(cfg.nodes.map((n, i) => bootNode(n, results[i]!)));
clearInterval(progress);
clearInterval(lagTimer);
await mux.close();
writeResult();
Deno.exit(0);
