/**
 * `downloadMirror` against a repository built as Alpine builds one, served
 * over HTTP on 127.0.0.1: the closure, verification, resume, publishing.
 */
import assert from "node:assert/strict";
import { mirrorStatus } from "../../src/mirror/mod.ts";
import { CLOSURE, FAST, files, snapshot, WANTED, world } from "./_mirror_fixture.ts";

const NETBOOT = ["initramfs-lts", "modloop-lts", "vmlinuz-lts"].map((n) =>
  `releases/x86_64/netboot/${n}`
);
const INDEXES = ["community/x86_64/APKINDEX.tar.gz", "main/x86_64/APKINDEX.tar.gz"];

Deno.test("download: the closure, verified, served by symlink; a second run downloads nothing", async () => {
  const w = await world();
  try {
    const r1 = await w.run();
    assert.equal(r1.published, true);
    assert.deepEqual(await files(w.served), [...CLOSURE, ...INDEXES, ...NETBOOT].sort());
    // Not in it: the losing provider of "mta", the conflict, what nobody asked for.
    for (const name of ["ssmtp", "busybox-extras", "unwanted"]) {
      assert.ok(!(await files(w.served)).some((f) => f.includes(`/${name}-`)), name);
    }
    assert.ok((await Deno.lstat(w.served)).isSymlink);
    assert.equal(r1.downloaded.files, CLOSURE.length);
    assert.equal(w.server.count(/\.apk$/), CLOSURE.length, "each package fetched once");
    // The upstream index bytes are served unchanged (Alpine's signature stays valid).
    assert.deepEqual(
      await Deno.readFile(`${w.served}/main/x86_64/APKINDEX.tar.gz`),
      await Deno.readFile(`${w.repo.root}/v3.22/main/x86_64/APKINDEX.tar.gz`),
    );
    assert.deepEqual(r1.arches[0]!.netboot.map((n) => n.check), ["sha512", "sha512", "sha512"]);
    assert.equal(r1.arches[0]!.repos[0]!.keyName, w.repo.key.name);

    const before = await snapshot(w.served);
    const mark = w.server.log.length;
    const t0 = performance.now();
    const r2 = await w.run();
    const ms = performance.now() - t0;
    const again = w.server.log.slice(mark);
    assert.equal(r2.published, false);
    assert.equal(r2.downloaded.files, 0);
    assert.deepEqual(again.filter((l) => l.path.endsWith(".apk")), []);
    assert.deepEqual(again.filter((l) => /APKINDEX/.test(l.path)).map((l) => l.status), [304, 304]);
    assert.deepEqual(again.filter((l) => /-lts$/.test(l.path)), [], "netboot files not fetched");
    assert.deepEqual(await snapshot(w.served), before);
    console.log(`second run with nothing new: ${ms.toFixed(0)} ms, ${again.length} small requests`);

    const st = await mirrorStatus({
      mirrorDir: w.mirrorDir,
      branch: "v3.22",
      wanted: WANTED,
      machines: [{ folder: "web", id: "0a1b2c3d", wanted: WANTED.slice(0, 4) }],
    });
    assert.equal(st.satisfied, true);
    assert.equal(st.missing, 0);
    assert.equal(st.stale, 0);
    assert.equal(st.packages, CLOSURE.length);
    assert.ok(st.lastDownload !== null);
  } finally {
    await w.close();
  }
});

Deno.test("download: a corrupted package is refused, deleted and fetched again", async () => {
  const w = await world();
  try {
    // One corrupted in its control stream (gzip fails), one in its data stream (datahash).
    const control = "v3.22/main/x86_64/openssh-server-10.0_p1-r7.apk";
    const data = "v3.22/community/x86_64/qemu-img-10.0.2-r0.apk";
    w.server.faults.set(control, { kind: "corrupt", times: 1 });
    w.server.faults.set(data, { kind: "corrupt", times: 1 });
    const r = await w.run();
    assert.equal(r.refused.length, 2);
    assert.match(r.refused.join("\n"), /openssh-server-10\.0_p1-r7\.apk: malformed: corrupt gzip/);
    assert.match(
      r.refused.join("\n"),
      /qemu-img-10\.0\.2-r0\.apk: data stream SHA-256 .* does not match/,
    );
    for (const path of [control, data]) {
      assert.equal(w.server.count(new RegExp(path.replaceAll(".", "\\."))), 2);
      const rel = path.slice("v3.22/".length);
      assert.deepEqual(
        await Deno.readFile(`${w.served}/${rel}`),
        await Deno.readFile(`${w.repo.root}/${path}`),
      );
    }
    // A package corrupted on every try fails the run with the reason.
    w.server.faults.set("v3.22/main/x86_64/busybox-1.37.0-r12.apk", {
      kind: "corrupt",
      times: Infinity,
    });
    await w.repo.add({
      name: "busybox",
      version: "1.37.0-r13",
      depends: ["so:libc.musl-x86_64.so.1"],
    });
    w.server.faults.set("v3.22/main/x86_64/busybox-1.37.0-r13.apk", {
      kind: "corrupt",
      times: Infinity,
    });
    await assert.rejects(w.run(), /refused after 3 attempts: .*busybox-1\.37\.0-r13\.apk/);
  } finally {
    await w.close();
  }
});

Deno.test("download: an interrupted run leaves the served mirror alone and the next one resumes", async () => {
  const w = await world();
  try {
    await w.run({ wanted: WANTED.slice(0, 1) }); // a first, small mirror
    const before = await snapshot(w.served);
    const markA = w.server.log.length;
    const dead = "v3.22/community/x86_64/qemu-img-10.0.2-r0.apk";
    const cut = "v3.22/main/x86_64/busybox-1.37.0-r12.apk";
    w.server.faults.set(dead, { kind: "status", status: 500, times: Infinity });
    // busybox is already served; openssh-client is new and is cut mid-body on both tries.
    const client = "v3.22/main/x86_64/openssh-client-10.0_p1-r7.apk";
    w.server.faults.set(client, { kind: "cut", after: 200, times: 2 });
    const failed = await w.run({ parallel: 32, policy: { ...FAST, attempts: 2 } }).then(
      () => assert.fail("the run should fail"),
      (e: Error) => e.message,
    );
    console.log(`interrupted run: ${failed}`);
    assert.match(
      failed,
      /(qemu-img-10\.0\.2-r0\.apk: HTTP 500|openssh-client-10\.0_p1-r7\.apk).*\(2 attempts\)/,
    );
    assert.deepEqual(await snapshot(w.served), before, "the old mirror is still served");
    const fetchedA = new Set(
      w.server.log.slice(markA).filter((l) => l.status === 200).map((l) => l.path),
    );
    assert.ok(!fetchedA.has(cut), "what the served tree has is not fetched");

    w.server.faults.clear();
    const mark = w.server.log.length;
    const r = await w.run();
    assert.deepEqual(await files(w.served), [...CLOSURE, ...INDEXES, ...NETBOOT].sort());
    const second = w.server.log.slice(mark).filter((l) => l.path.endsWith(".apk"));
    for (const l of second.filter((l) => l.path !== client)) {
      assert.ok(!fetchedA.has(l.path), `${l.path} fetched twice`);
    }
    // The cut download goes on from where it stopped (400 bytes after two cuts).
    const resumed = second.find((l) => l.path === client);
    assert.equal(resumed?.status, 206);
    assert.equal(resumed?.range, "bytes=400-");
    assert.ok(r.published);
  } finally {
    await w.close();
  }
});

Deno.test("download: packages no longer needed disappear; an update fetches only the new version", async () => {
  const w = await world();
  try {
    await w.run();
    await w.repo.add({
      name: "busybox",
      version: "1.37.0-r13",
      depends: ["so:libc.musl-x86_64.so.1"],
    });
    const mark = w.server.log.length;
    const r = await w.run({ wanted: WANTED.filter((x) => x.name !== "qemu-img") });
    const got = w.server.log.slice(mark).filter((l) => l.path.endsWith(".apk")).map((l) => l.path);
    assert.deepEqual(got, ["v3.22/main/x86_64/busybox-1.37.0-r13.apk"]);
    assert.deepEqual(r.removed, [
      "community/x86_64/qemu-img-10.0.2-r0.apk",
      "main/x86_64/busybox-1.37.0-r12.apk",
    ]);
    const now = await files(w.served);
    assert.ok(now.includes("main/x86_64/busybox-1.37.0-r13.apk"));
    assert.ok(!now.some((f) => f.includes("qemu-img")));
    // Trees: the served one and the one before it (for nodes mid-boot), no more.
    await w.run({ wanted: WANTED.slice(0, 2) });
    assert.equal([...Deno.readDirSync(`${w.mirrorDir}/.mesh/trees`)].length, 2);
  } finally {
    await w.close();
  }
});

Deno.test("download: --from DIR copies a local mirror tree through the same checks", async () => {
  const w = await world();
  try {
    const r1 = await w.run({ from: w.repo.root });
    assert.equal(r1.published, true);
    assert.deepEqual(await files(w.served), [...CLOSURE, ...INDEXES, ...NETBOOT].sort());
    const r2 = await w.run({ from: w.repo.root });
    assert.equal(r2.published, false);
    assert.equal(r2.downloaded.files, 0);
    assert.equal(r2.arches[0]!.netboot.filter((n) => n.downloaded).length, 0);
    // Same bytes from HTTP afterwards: nothing to fetch either.
    const r3 = await w.run();
    assert.equal(r3.downloaded.files, 0);
    assert.equal(w.server.count(/\.apk$/), 0);
  } finally {
    await w.close();
  }
});

Deno.test("download: netboot files without a published checksum are kept by ETag", async () => {
  const w = await world(undefined, false);
  try {
    const r1 = await w.run();
    assert.deepEqual(r1.arches[0]!.netboot.map((n) => n.check), ["none", "none", "none"]);
    const mark = w.server.log.length;
    const r2 = await w.run();
    assert.equal(r2.published, false);
    const nb = w.server.log.slice(mark).filter((l) => /-lts$/.test(l.path)).map((l) => l.status);
    assert.deepEqual(nb, [304, 304, 304]);
    // A netboot file that does not match its .sha512 is refused.
    await Deno.writeTextFile(
      `${w.repo.root}/v3.22/releases/x86_64/netboot/vmlinuz-lts.sha512`,
      "00".repeat(64) + "  vmlinuz-lts\n",
    );
    await assert.rejects(
      w.run(),
      /vmlinuz-lts: sha512 [0-9a-f]+ does not match vmlinuz-lts\.sha512/,
    );
  } finally {
    await w.close();
  }
});

Deno.test("download: --arch adds an arch and keeps the others as they are", async () => {
  const w = await world(undefined, true, ["x86_64", "aarch64"]);
  try {
    await w.run();
    const x86 = await snapshot(w.served);
    const mark = w.server.log.length;
    const r = await w.run({ arches: ["aarch64"] });
    assert.deepEqual(r.carriedArches, ["x86_64"]);
    assert.ok(w.server.log.slice(mark).every((l) => !l.path.includes("/x86_64/")));
    const both = await files(w.served);
    for (const f of x86.files) assert.ok(both.includes(f), `${f} kept`);
    assert.ok(both.includes("main/aarch64/busybox-1.37.0-r12.apk"));
    assert.ok(both.includes("releases/aarch64/netboot/vmlinuz-lts"));
    // Both arches verified from the state afterwards: a run of both fetches nothing.
    const r2 = await w.run({ arches: ["x86_64", "aarch64"] });
    assert.equal(r2.downloaded.files, 0);
    assert.equal(r2.published, false);
  } finally {
    await w.close();
  }
});
