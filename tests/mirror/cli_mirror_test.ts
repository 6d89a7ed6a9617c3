/**
 * `mesh system download` and `mesh mirror status` as a user runs them: a
 * real process against a /host0 whose mesh.yaml points at the test
 * repository; exit codes, the table, --json and the one-line errors.
 */
import assert from "node:assert/strict";
import { CLOSURE, host0, world } from "./_mirror_fixture.ts";

export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function mesh(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli: mesh system download, then mesh mirror status (table and --json)", async () => {
  const w = await world();
  try {
    const key = w.repo.key;
    const h = await host0(w.dir, w.server.url, key);
    let r = await mesh(["--host0", h, "system", "download"]);
    assert.equal(r.code, 0, r.stderr);
    console.log(
      r.stdout.replaceAll(w.dir, "<tmp>").replace(/127\.0\.0\.1:\d+/, "127.0.0.1:<port>"),
    );
    assert.match(r.stdout, /v3\.22 from http:\/\/127\.0\.0\.1:\d+ → .*\(published\)/);
    assert.match(r.stdout, new RegExp(`${CLOSURE.length} packages .* fetched ${CLOSURE.length} `));
    r = await mesh(["--host0", h, "system", "download"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\(unchanged\)/);
    assert.match(r.stdout, / fetched 0 \(0 B\), removed 0, /);

    r = await mesh(["--host0", h, "mirror", "status"]);
    assert.equal(r.code, 0, r.stderr);
    console.log(
      r.stdout.replaceAll(w.dir, "<tmp>").replace(/127\.0\.0\.1:\d+/, "127.0.0.1:<port>"),
    );
    assert.match(r.stdout, /machines\s+2 of 2 satisfied/);
    r = await mesh(["--host0", h, "--json", "mirror", "status"]);
    const st = JSON.parse(r.stdout);
    assert.equal(st.satisfied, true);
    assert.equal(st.packages, CLOSURE.length);
    assert.deepEqual([st.missing, st.stale], [0, 0]);
    assert.deepEqual(st.arches.map((a: { arch: string }) => a.arch), ["x86_64"]);

    // The machine now wants something the mirror lacks: status says so, download fetches it.
    await Deno.writeTextFile(`${h}/machines/web/packages`, "app\nlibfoo\nbusybox-extras\n");
    r = await mesh(["--host0", h, "--json", "mirror", "status"]);
    const st2 = JSON.parse(r.stdout);
    assert.equal(st2.satisfied, false);
    assert.equal(st2.missing, 1);
    assert.match(
      st2.machines.find((m: { folder: string }) => m.folder === "web").problems[0],
      /1 files missing from the mirror \(main\/x86_64\/busybox-extras-/,
    );

    // A name nothing provides: exit 2, one line naming the file.
    await Deno.writeTextFile(`${h}/machines/web/packages`, "app\nno-such-package\n");
    r = await mesh(["--host0", h, "system", "download"]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `mesh: ${h}/machines/web/packages: no-such-package: nothing provides it\n`,
    );

    // No key for the index: exit 1, one line naming the key and where it goes.
    await Deno.writeTextFile(`${h}/machines/web/packages`, "app\n");
    await Deno.remove(`${h}/keys/apk/${key.name}`);
    r = await mesh(["--host0", h, "system", "download"]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.match(
      r.stderr,
      new RegExp(`signed with ${key.name.replaceAll(".", "\\.")}, which is not in ${h}/keys/apk`),
    );

    r = await mesh(["--host0", h, "system", "download", "--arch", "sparc"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown arch sparc/);
  } finally {
    await w.close();
  }
});

Deno.test("cli: a download killed mid-way leaves the old mirror served; the next run resumes", async () => {
  const w = await world();
  try {
    const h = await host0(w.dir, w.server.url, w.repo.key, {
      top: "openssh\n",
      group: "",
      machine: "",
    });
    let r = await mesh(["--host0", h, "system", "download"]);
    assert.equal(r.code, 0, r.stderr);
    const before = await Deno.realPath(`${w.dir}/mirror/v3.22`);
    await Deno.writeTextFile(`${h}/groups/kvm/packages`, "qemu-img\n");
    await Deno.writeTextFile(`${h}/machines/web/packages`, "app\nlibfoo\n");
    const stuck = "v3.22/community/x86_64/qemu-img-10.0.2-r0.apk";
    w.server.faults.set(stuck, { kind: "stall", times: Infinity });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--host0", h, "system", "download", "--parallel", "1"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    while (!w.server.log.some((l) => l.path === stuck)) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await child.status;
    assert.equal(await Deno.realPath(`${w.dir}/mirror/v3.22`), before, "old tree still served");
    const fetched = new Set(w.server.log.filter((l) => l.status === 200).map((l) => l.path));
    w.server.faults.clear();
    const mark = w.server.log.length;
    r = await mesh(["--host0", h, "system", "download"]);
    assert.equal(r.code, 0, r.stderr); // the dead run's lock is taken over
    const again = w.server.log.slice(mark).filter((l) => l.path.endsWith(".apk"));
    for (const l of again) {
      if (l.path !== stuck) assert.ok(!fetched.has(l.path), `${l.path} fetched twice`);
    }
    assert.ok(again.some((l) => l.path === stuck));
    assert.notEqual(await Deno.realPath(`${w.dir}/mirror/v3.22`), before);
  } finally {
    await w.close();
  }
});
