import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { loadHost0 } from "../config/mod.ts";
import { copyTree, hashDir, HOST0_EXAMPLE } from "../../tests/config_corpus/tree.ts";
import { compileOverlays, type IndexEntry } from "./mod.ts";

async function tar(args: string[]): Promise<string> {
  const out = await new Deno.Command("tar", { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** Path → "mode uid/gid [-> target]" from `tar -tvzf --numeric-owner`. */
async function listing(file: string): Promise<Map<string, string>> {
  const text = await tar(["--numeric-owner", "-tvzf", file]);
  const out = new Map<string, string>();
  for (const line of text.trim().split("\n")) {
    const f = line.split(/\s+/);
    out.set(f[5]!, `${f[0]} ${f[1]}${f[6] === "->" ? ` -> ${f[7]}` : ""}`);
  }
  return out;
}

Deno.test("compileOverlays: host0-example compiles into overlays GNU tar unpacks as written", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "mesh-compile-" });
  try {
    // A copy at another location: /host0/ paths in manifests must follow it.
    const host0Dir = `${tmp}/host0`;
    await copyTree(HOST0_EXAMPLE, host0Dir);
    await Deno.remove(`${host0Dir}/state`, { recursive: true }).catch(() => {});
    // A machine without runlevels of its own gets .default_boot_services.
    await Deno.mkdir(`${host0Dir}/machines/plain`);
    await Deno.writeTextFile(`${host0Dir}/machines/plain/UUID`, "0badc0de\n");
    await Deno.writeTextFile(
      `${host0Dir}/machines/plain/manifest`,
      "O MODE=root:root:0644 SRC=/host0/machines/default/hostname TGT=/etc/hostname\n",
    );
    // A skipped machine is not built.
    await Deno.mkdir(`${host0Dir}/machines/parked`);
    await Deno.writeTextFile(`${host0Dir}/machines/parked/SKIP`, "");

    const host0 = await loadHost0(host0Dir);
    const outDir = `${tmp}/state/apkovl`;
    const progress: string[] = [];
    const result = await compileOverlays(host0, {
      outDir,
      onProgress: (done, total, m) => progress.push(`${done}/${total} ${m.folder}`),
    });
    assert.deepEqual(result.rows.map((r) => `${r.folder} ${r.id}`), [
      "compute-1 5e2d9a41",
      "default default",
      "plain 0badc0de",
      "storage-1 10eff964",
    ]);
    assert.equal(progress.length, 4);
    assert.equal(progress.at(-1), "4/4 storage-1");
    const files = await hashDir(outDir);
    assert.deepEqual(Object.keys(files), [
      "0badc0de.tar.gz",
      "10eff964.tar.gz",
      "5e2d9a41.tar.gz",
      "default.tar.gz",
      "index.json",
    ]);
    const index = JSON.parse(await Deno.readTextFile(`${outDir}/index.json`)) as Record<
      string,
      IndexEntry
    >;
    for (const row of result.rows) {
      assert.equal(index[row.id]!.sha256, files[`${row.id}.tar.gz`]);
      assert.equal(index[row.id]!.size, (await Deno.stat(row.path)).size);
      assert.equal(index[row.id]!.folder, row.folder);
    }
    assert.equal(index["5e2d9a41"]!.cmdline, "intel_iommu=on");

    // storage-1: groups runlevels, baseline, timezone-utc, then its manifest.
    const storage = await listing(`${outDir}/10eff964.tar.gz`);
    assert.equal(storage.get("etc/hostname"), "-rw-r--r-- 0/0");
    assert.equal(storage.get("etc/ssh/sshd_config"), "-rw------- 0/0");
    assert.equal(storage.get("etc/localtime"), "lrwxrwxrwx 0/0 -> /usr/share/zoneinfo/UTC");
    assert.equal(storage.get("etc/runlevels/boot/mdadm"), "lrwxrwxrwx 0/0 -> /etc/init.d/mdadm");
    assert.equal(storage.get("mnt/data/"), "drwxr-xr-x 0/0");
    assert.equal(storage.has("etc/.default_boot_services"), false);
    const compute = await listing(`${outDir}/5e2d9a41.tar.gz`);
    assert.equal(compute.get("etc/mesh/qemu.conf"), "-rw-r----- 0/34");
    assert.equal(compute.get("var/lib/mesh/workloads/"), "drwxrwx--- 0/34");
    assert.equal(compute.get("usr/local/bin/kvm"), "lrwxrwxrwx 0/0 -> /usr/bin/qemu-system-x86_64");
    const plain = await listing(`${outDir}/0badc0de.tar.gz`);
    assert.deepEqual([...plain.keys()], [
      "etc/",
      "etc/.default_boot_services",
      "etc/apk/",
      "etc/apk/world",
      "etc/hostname",
      "etc/init.d/",
      "etc/init.d/mesh-net",
      "etc/mesh/",
      "etc/mesh/genid.sh",
      "etc/mesh/meshnet.sh",
      "etc/mesh/network/",
      "etc/mesh/network/default.conf",
      "etc/mesh/network/manage.conf",
      "etc/mesh/node-id",
      "etc/runlevels/",
      "etc/runlevels/default/",
      "etc/runlevels/default/mesh-net",
    ]);
    assert.equal(plain.get("etc/mesh/genid.sh"), "-rwxr-xr-x 0/0");
    // its meshes (src/meshnet): the service link alone keeps Alpine's default services
    assert.equal(plain.get("etc/mesh/meshnet.sh"), "-rwxr-xr-x 0/0");
    assert.equal(
      plain.get("etc/runlevels/default/mesh-net"),
      "lrwxrwxrwx 0/0 -> /etc/init.d/mesh-net",
    );

    // Unpack as a node's initramfs would and check contents on disk.
    const root = `${tmp}/root`;
    await Deno.mkdir(root);
    await tar(["--numeric-owner", "-xzf", `${outDir}/10eff964.tar.gz`, "-C", root]);
    assert.equal(await Deno.readTextFile(`${root}/etc/hostname`), "storage-1\n");
    assert.equal(await Deno.readTextFile(`${root}/etc/mesh/node-id`), "10eff964\n");
    assert.equal(
      await Deno.readTextFile(`${root}/etc/motd`),
      "Welcome to a mesh node.\nRole: storage (md0 on /mnt/data).\n",
    );
    assert.equal(
      await Deno.readTextFile(`${root}/etc/apk/world`),
      "alpine-base\nchrony\ne2fsprogs\niproute2\nmdadm\nopenssh\ntzdata\n",
    );
    assert.equal(
      await Deno.readLink(`${root}/etc/runlevels/sysinit/modloop`),
      "/etc/init.d/modloop",
    );
    assert.equal((await Deno.stat(`${root}/etc/ssh/sshd_config`)).mode! & 0o777, 0o600);
    await tar(["--numeric-owner", "-xzf", `${outDir}/5e2d9a41.tar.gz`, "-C", root]);
    const qemu = await Deno.stat(`${root}/etc/mesh/qemu.conf`);
    if (Deno.uid() === 0) assert.equal(qemu.gid, 34);
    assert.equal(qemu.mode! & 0o777, 0o640);
    const defaultRoot = `${tmp}/default-root`;
    await Deno.mkdir(defaultRoot);
    await tar(["--numeric-owner", "-xzf", `${outDir}/default.tar.gz`, "-C", defaultRoot]);
    assert.equal(
      await Deno.readTextFile(`${defaultRoot}/etc/network/interfaces`),
      "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet dhcp\n",
    );
    assert.equal(
      (await Deno.stat(`${defaultRoot}/etc/local.d/mesh-hello.start`)).mode! & 0o777,
      0o755,
    );
    assert.equal(
      await Deno.readTextFile(`${defaultRoot}/etc/apk/world`),
      "alpine-base\niproute2\n",
    );
    // host0-example pins eth0's address: that is the central node in every conf
    const manage = await Deno.readTextFile(`${defaultRoot}/etc/mesh/network/manage.conf`);
    assert.match(manage, /^central=10\.11\.0\.1$/m);
    assert.match(manage, /^address=$/m); // the default overlay: each node computes its own

    // A second run gives identical bytes; a machine removed from /host0 is pruned.
    await compileOverlays(await loadHost0(host0Dir), { outDir });
    assert.deepEqual(await hashDir(outDir), files);
    await Deno.remove(`${host0Dir}/machines/plain`, { recursive: true });
    await compileOverlays(await loadHost0(host0Dir), { outDir });
    const after = await hashDir(outDir);
    assert.equal(after["0badc0de.tar.gz"], undefined);
    assert.equal(after["10eff964.tar.gz"], files["10eff964.tar.gz"]);
    // No temp dirs are left beside outDir.
    const siblings: string[] = [];
    for await (const e of Deno.readDir(`${tmp}/state`)) siblings.push(e.name);
    assert.deepEqual(siblings, ["apkovl"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("compileOverlays: a SRC symlink inside /host0 is copied; one leaving it is refused", async () => {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "mesh-compile-" }));
  try {
    const host0Dir = `${tmp}/host0`;
    await copyTree(HOST0_EXAMPLE, host0Dir);
    await Deno.remove(`${host0Dir}/state`, { recursive: true }).catch(() => {});
    const secret = "root:SECRET-HASH:19000::::::\n";
    await Deno.writeTextFile(`${tmp}/secret`, secret);
    const mf = `${host0Dir}/machines/storage-1/manifest`;
    const text = await Deno.readTextFile(mf);
    const line = text.split("\n").length - (text.endsWith("\n") ? 1 : 0) + 1;
    await Deno.writeTextFile(
      mf,
      `${text.endsWith("\n") ? text : `${text}\n`}` +
        "O MODE=root:root:0600 SRC=/host0/machines/storage-1/extra TGT=/etc/extra\n",
    );
    const extra = `${host0Dir}/machines/storage-1/extra`;
    // inside: a symlink to another file of /host0 works end to end
    await Deno.symlink("../../groups/baseline/motd", extra);
    const outDir = `${tmp}/state/apkovl`;
    await compileOverlays(await loadHost0(host0Dir), { outDir });
    assert.equal(
      await tar(["-xzOf", `${outDir}/10eff964.tar.gz`, "etc/extra"]),
      await Deno.readTextFile(`${host0Dir}/groups/baseline/motd`),
    );
    const published = await hashDir(outDir);

    // outside: swapped in after `config check` passed, it is refused at its line
    const host0 = await loadHost0(host0Dir);
    await Deno.remove(extra);
    await Deno.symlink(`${tmp}/secret`, extra);
    let error: unknown;
    try {
      await compileOverlays(host0, { outDir });
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.issues.length, 1, error.message);
    assert.equal(error.file, mf);
    assert.equal(error.line, line);
    assert.match(error.message, /resolves to .*\/secret, outside the \/host0 directory/);
    // nothing was published: the previous overlays are byte-identical
    assert.deepEqual(await hashDir(outDir), published);
    for (const file of Object.keys(published).filter((f) => f.endsWith(".tar.gz"))) {
      assert.ok(!(await tar(["-xzOf", `${outDir}/${file}`])).includes("SECRET"), file);
    }
    // and `config check` refuses it as well
    await assert.rejects(() => loadHost0(host0Dir), ConfigError);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
