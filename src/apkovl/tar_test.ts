import assert from "node:assert/strict";
import { EntryType, splitUstarPath, type TarEntry, writeTar, writeTarGz } from "./tar.ts";

const enc = new TextEncoder();
const root = { uid: 0, gid: 0, uname: "root", gname: "root" };

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `${cmd} ${args.join(" ")}: ${stderr}`);
  assert.equal(stderr, "", "GNU tar printed warnings");
  return new TextDecoder().decode(out.stdout);
}

const longDir = `${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(20)}`;
const ENTRIES: TarEntry[] = [
  { path: "etc", type: EntryType.Directory, mode: 0o755, ...root },
  {
    path: "etc/hostname",
    type: EntryType.File,
    mode: 0o644,
    ...root,
    content: enc.encode("node1\n"),
  },
  {
    path: "etc/localtime",
    type: EntryType.Symlink,
    mode: 0o777,
    ...root,
    linkname: "/usr/share/zoneinfo/UTC",
  },
  {
    path: "etc/shadow",
    type: EntryType.File,
    mode: 0o640,
    uid: 0,
    gid: 42,
    uname: "root",
    gname: "shadow",
    content: enc.encode("x".repeat(1500)),
  },
  {
    path: "srv",
    type: EntryType.Directory,
    mode: 0o1777,
    uid: 65534,
    gid: 65533,
    uname: "nobody",
    gname: "nogroup",
  },
  {
    path: "srv/empty",
    type: EntryType.File,
    mode: 0o4755,
    uid: 1000,
    gid: 1000,
    uname: "",
    gname: "",
  },
  { path: longDir, type: EntryType.Directory, mode: 0o700, ...root },
  {
    path: `${longDir}/${"g".repeat(90)}.conf`,
    type: EntryType.File,
    mode: 0o600,
    ...root,
    content: enc.encode("long\n"),
  },
];

Deno.test("tar: GNU tar lists and extracts what was written (modes, owners, symlinks, long names)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.tar.gz`, writeTarGz(ENTRIES));
    const listing = await run("tar", ["--numeric-owner", "-tvzf", `${dir}/a.tar.gz`]);
    const rows = listing.trim().split("\n").map((l) => l.split(/\s+/));
    assert.deepEqual(rows.map((r) => [r[0], r[1]]), [
      ["drwxr-xr-x", "0/0"],
      ["-rw-r--r--", "0/0"],
      ["lrwxrwxrwx", "0/0"],
      ["-rw-r-----", "0/42"],
      ["drwxrwxrwt", "65534/65533"],
      ["-rwsr-xr-x", "1000/1000"],
      ["drwx------", "0/0"],
      ["-rw-------", "0/0"],
    ]);
    assert.deepEqual(rows.map((r) => r[5]), [
      "etc/",
      "etc/hostname",
      "etc/localtime",
      "etc/shadow",
      "srv/",
      "srv/empty",
      `${longDir}/`,
      `${longDir}/${"g".repeat(90)}.conf`,
    ]);
    await Deno.mkdir(`${dir}/x`);
    await run("tar", ["--numeric-owner", "-xzf", `${dir}/a.tar.gz`, "-C", `${dir}/x`]);
    assert.equal(await Deno.readTextFile(`${dir}/x/etc/hostname`), "node1\n");
    assert.equal(await Deno.readLink(`${dir}/x/etc/localtime`), "/usr/share/zoneinfo/UTC");
    const shadow = await Deno.stat(`${dir}/x/etc/shadow`);
    assert.equal(shadow.size, 1500);
    if (Deno.uid() === 0) {
      assert.equal(shadow.gid, 42);
      assert.equal(shadow.mode! & 0o7777, 0o640);
      assert.equal((await Deno.stat(`${dir}/x/srv/empty`)).uid, 1000);
    }
    assert.equal(await Deno.readTextFile(`${dir}/x/${longDir}/${"g".repeat(90)}.conf`), "long\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar: output is byte-identical across runs and ends with two zero blocks", () => {
  const a = writeTarGz(ENTRIES);
  const b = writeTarGz(ENTRIES.map((e) => ({ ...e })));
  assert.deepEqual(a, b);
  assert.deepEqual(Array.from(a.subarray(4, 8)), [0, 0, 0, 0], "gzip mtime");
  assert.equal(a[9], 3, "gzip OS byte");
  const raw = writeTar(ENTRIES);
  assert.equal(raw.length % 512, 0);
  assert.ok(raw.subarray(raw.length - 1024).every((x) => x === 0));
});

Deno.test("tar: unrepresentable entries are refused", () => {
  const f = (path: string): TarEntry => ({
    path,
    type: EntryType.File,
    mode: 0o644,
    ...root,
    content: new Uint8Array(),
  });
  assert.throws(() => writeTar([f("x".repeat(101))]), RangeError);
  assert.throws(() => writeTar([f(`${"a".repeat(160)}/b`)]), RangeError);
  assert.throws(
    () => writeTar([{ ...f("l"), type: EntryType.Symlink, linkname: "/".repeat(101) }]),
    RangeError,
  );
  assert.throws(() => writeTar([{ ...f("u"), uid: 0o10000000 }]), RangeError);
  assert.equal(
    splitUstarPath(enc.encode(`${"a".repeat(150)}/${"b".repeat(100)}`))?.prefix.length,
    150,
  );
});
