/**
 * Real firmware boots through our DHCP service: in one lab, our DHCP
 * (tests/dhcp/serve_fixture.ts), our TFTP server (tests/tftp/serve_fixture.ts)
 * and our HTTP app with in-memory fakes (tests/http/_server.ts) serve
 *
 * - a SeaBIOS VM with QEMU's iPXE NIC ROM (iPXE's DHCP → boot script), and
 * - an OVMF VM with the firmware's own PXE (firmware DHCP, arch 7 →
 *   snponly.efi over TFTP → iPXE's DHCP → boot script),
 *
 * both of which run the kit's kernel and initramfs, fetch their overlay and
 * print the marker line. The leases table then holds both MACs as bound, and
 * the node events show the firmware's DISCOVER and each ACK's boot file.
 */
import assert from "node:assert/strict";
import { nodeIdFor } from "../../src/boot/mod.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";
import { createLab, labSkipReason } from "../lib/netns.ts";
import {
  addTap,
  bootVm,
  type BootVmResult,
  IPXE_DIR,
  prepareBootAssets,
  qemuSkipReason,
  startMeshAdvertiser,
} from "../lib/qemu.ts";
import { startLabServer } from "../http/_lab_server.ts";
import { readLeases, startFixture } from "./_fixture_client.ts";
import { TextLineStream } from "../lib/lines.ts";

const TFTP_FIXTURE = new URL("../tftp/serve_fixture.ts", import.meta.url).pathname;
const SRV = "10.92.0.1";

interface Vm {
  readonly label: string;
  readonly firmware: "bios" | "uefi";
  readonly mac: string;
  readonly uuid: string;
  readonly tap: string;
  readonly uefiNativePxe?: boolean;
}

const VMS: readonly Vm[] = [
  {
    label: "bios-ipxe-rom",
    firmware: "bios",
    mac: "52:54:00:92:01:01",
    uuid: "7e570000-0000-4000-8000-525400920101",
    tap: "tdbios",
  },
  {
    label: "uefi-native-pxe",
    firmware: "uefi",
    mac: "52:54:00:92:02:01",
    uuid: "7e570000-0000-4000-8000-525400920201",
    tap: "tduefi",
    uefiNativePxe: true,
  },
];

function explain(r: BootVmResult): string {
  return `marker line missing; last serial lines:\n${r.serial.slice(-40).join("\n")}\n${r.stderr}`;
}

/** A gzip tar with the given files, for the HTTP app's overlay catalog. */
async function makeOverlay(dir: string, name: string, files: Record<string, string>) {
  const tree = await Deno.makeTempDir({ dir, prefix: "tree-" });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(`${tree}/${path.split("/").slice(0, -1).join("/")}`, { recursive: true });
    await Deno.writeTextFile(`${tree}/${path}`, content);
  }
  const path = `${dir}/${name}.tar.gz`;
  const out = await new Deno.Command("tar", { args: ["-czf", path, "-C", tree, "."] }).output();
  assert.equal(out.code, 0);
  return { path, size: (await Deno.stat(path)).size, etag: `"${name}"` };
}

/** Starts our TFTP server in `host`, resolving once it listens. */
async function startTftp(lab: Awaited<ReturnType<typeof createLab>>, root: string) {
  const child = lab.spawn("srv", [Deno.execPath(), "run", "-A", TFTP_FIXTURE, root, SRV, "69"], {
    stdout: "piped",
    stderr: "inherit",
  });
  const sent: string[] = [];
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
    new TextLineStream(),
  );
  let ready!: () => void;
  const isReady = new Promise<void>((r) => ready = r);
  (async () => {
    for await (const line of lines) {
      try {
        const o = JSON.parse(line);
        if (o.port) ready();
        if (o.event === "transfer") sent.push(JSON.stringify(o));
      } catch { /* not ours */ }
    }
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    isReady,
    new Promise((_, rej) => timer = setTimeout(() => rej(new Error("tftp did not start")), 20_000)),
  ]);
  clearTimeout(timer);
  return sent;
}

Deno.test({
  name: "qemu: SeaBIOS+iPXE and OVMF native PXE boot through our DHCP, TFTP and HTTP",
  ignore: labSkipReason(["tar"]) !== null || qemuSkipReason() !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const assets = await prepareBootAssets();
    const dir = await Deno.makeTempDir({ prefix: "mesh-dhcp-qemu-" });
    try {
      await using lab = await createLab("dq", [{ name: "srv", address: `${SRV}/24` }]);
      for (const d of ["boot", "mirror", "tftp", "ovl"]) await Deno.mkdir(`${dir}/${d}`);
      await Deno.copyFile(assets.kernel, `${dir}/boot/vmlinuz-lts`);
      await Deno.copyFile(assets.initrd, `${dir}/boot/initramfs-lts`);
      for (const f of ["undionly.kpxe", "snponly.efi", "ipxe.efi"]) {
        await Deno.copyFile(`${IPXE_DIR}/${f}`, `${dir}/tftp/${f}`);
      }
      const token = crypto.randomUUID().slice(0, 8);
      const overlays: Record<string, { path: string; size: number; etag: string }> = {};
      for (const vm of VMS) {
        const id = nodeIdFor({ uuid: vm.uuid, mac: vm.mac }).id;
        overlays[id] = await makeOverlay(`${dir}/ovl`, id, {
          "etc/mesh-e2e-marker": `${vm.label} ${token}\n`,
          "etc/mesh/node-id": `${id}\n`,
        });
        await addTap(lab, vm.tap);
      }

      const db = `${dir}/mesh.db`;
      const dhcp = await startFixture(lab, "srv", {
        db,
        interfaces: [{ name: "eth0", serverIp: SRV, subnet: "10.92.0.0/24" }],
        pools: [{
          subnet: "10.92.0.0/24",
          start: "10.92.0.100",
          end: "10.92.0.150",
          router: SRV,
          leaseSeconds: 3600,
        }],
        boot: { httpPort: 80, efiX64Snp: true },
        events: true,
        probeTimeoutMs: 200,
      });
      const tftpSent = await startTftp(lab, `${dir}/tftp`);
      await startLabServer(lab, "srv", {
        hostname: SRV,
        port: 80,
        publicBase: `http://${SRV}`,
        mirror: `${dir}/mirror`,
        boot: `${dir}/boot`,
        kernelPath: "/boot/vmlinuz-lts",
        initrdPath: "/boot/initramfs-lts",
        extraCmdline: "console=ttyS0",
        overlayAccess: "any",
        overlays,
        leases: {},
        log: false,
      });
      await startMeshAdvertiser(lab);

      const results = await Promise.all(
        VMS.map((vm) => bootVm(lab, { ...vm, name: vm.label, timeoutMs: 600_000 })),
      );
      for (const [i, vm] of VMS.entries()) {
        const r = results[i]!;
        assert.ok(r.ok, `${vm.label}: ${explain(r)}`);
        assert.equal(r.fields?.mac, vm.mac);
        assert.equal(r.fields?.id, nodeIdFor({ uuid: vm.uuid, mac: vm.mac }).id, r.line);
        assert.match(r.fields?.ip ?? "", /^10\.92\.0\.1[0-5]\d$/, r.line);
        assert.equal(r.fields?.overlay, "ok", r.line);
        assert.equal(r.fields?.marker, `${vm.label}_${token}`);
        console.log(`${vm.label}: marker after ${(r.ms / 1000).toFixed(1)} s: ${r.line}`);
      }

      // The leases table holds both MACs as bound, each with one address for the whole
      // boot (firmware, iPXE and Linux's udhcpc share it: leases are keyed by MAC).
      const rows = await readLeases(db);
      for (const [i, vm] of VMS.entries()) {
        const mine = rows.filter((r) => r.mac === vm.mac)
          .map((r) => [formatIpv4(r.ip), r.state]);
        assert.deepEqual(mine, [[results[i]!.fields!.ip, "bound"]], JSON.stringify(rows));
      }

      // The UEFI VM went through its firmware's PXE: discovered, snponly.efi over our TFTP,
      // then iPXE got the script URL. The BIOS VM's iPXE ROM got the script straight away.
      const uefi = VMS[1]!.mac;
      const events = dhcp.events.map((e) => `${e.mac} ${e.stage} ${e.detail.boot ?? "-"}`);
      const ctx = `events:\n${events.join("\n")}\ntftp:\n${tftpSent.join("\n")}`;
      assert.ok(events.includes(`${uefi} discovered -`), ctx);
      assert.ok(events.includes(`${uefi} dhcp snponly.efi`), ctx);
      assert.ok(tftpSent.some((l) => l.includes("snponly.efi")), ctx);
      const script = `http://${SRV}/boot.ipxe?mac=\${net0/mac}&uuid=\${uuid}`;
      for (const vm of VMS) assert.ok(events.includes(`${vm.mac} dhcp ${script}`), ctx);
      // QEMU's BIOS NIC ROM is iPXE: its DISCOVER is the first of its boot.
      assert.ok(events.includes(`${VMS[0]!.mac} discovered -`), ctx);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
