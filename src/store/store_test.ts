import assert from "node:assert/strict";
import { acquireStateLock, MIGRATIONS, NodeStore, openStore, Stage } from "./mod.ts";
import { StateLockedError } from "../errors.ts";

function tmpDb(): { dir: string; path: string } {
  const dir = Deno.makeTempDirSync({ prefix: "mesh-store-" });
  return { dir, path: `${dir}/mesh.db` };
}

Deno.test("openStore() migrates a new database and reopens it at the same version", () => {
  const { dir, path } = tmpDb();
  try {
    const s = openStore(path);
    assert.equal(s.version, MIGRATIONS.length);
    const tables =
      (s.db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all() as {
        name: string;
      }[]).map((r) => r.name);
    for (
      const t of ["leases", "net_events", "node_events", "nodes", "segments", "subnet_allocations"]
    ) {
      assert.ok(tables.includes(t), `table ${t}`);
    }
    assert.equal(
      (s.db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode,
      "wal",
    );
    s.close();
    const again = openStore(path);
    assert.equal(again.version, MIGRATIONS.length);
    again.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openStore() refuses a database from a newer mesh", () => {
  const { dir, path } = tmpDb();
  try {
    const s = openStore(path);
    s.db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 5}`);
    s.close();
    assert.throws(() => openStore(path), /newer than this mesh/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("acquireStateLock() refuses a live holder and takes over a dead one", async () => {
  const { dir } = tmpDb();
  const lockPath = `${dir}/mesh.lock`;
  try {
    const lock = acquireStateLock(lockPath);
    // A second process trying the same lock sees this process as the holder.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `
        import { acquireStateLock } from "${new URL("./mod.ts", import.meta.url).href}";
        try { acquireStateLock("${lockPath}"); console.log("taken"); } catch (e) { console.log(e.name, e.holderPid); }
      `,
      ],
      stdout: "piped",
      stderr: "inherit",
    });
    const out = new TextDecoder().decode((await child.output()).stdout).trim();
    assert.equal(out, `StateLockedError ${Deno.pid}`);
    lock.release();
    // A lock file left by a process that no longer exists is stale.
    Deno.writeTextFileSync(lockPath, "999999999\n");
    const again = acquireStateLock(lockPath);
    assert.equal(Deno.readTextFileSync(lockPath).trim(), String(Deno.pid));
    again.release();
    assert.throws(() => Deno.statSync(lockPath));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.ok(new StateLockedError(1, "x").message.includes("pid 1"));
});

Deno.test("NodeStore follows a boot through its stages and adopts MAC-only events", () => {
  const { dir, path } = tmpDb();
  try {
    const s = openStore(path);
    const reg = new NodeStore(s.db);
    const mac = "52:54:00:12:34:56";
    reg.record({ mac, stage: Stage.Discovered, source: "dhcp", at: 1000 });
    reg.record({ mac, ip: "10.0.0.5", stage: Stage.Dhcp, source: "dhcp", at: 1100 });
    reg.record({
      mac,
      ip: "10.0.0.5",
      stage: Stage.Firmware,
      source: "tftp",
      at: 1200,
      detail: { file: "undionly.kpxe" },
    });
    reg.record({ mac, stage: Stage.Discovered, source: "dhcp", at: 1250 }); // the chained iPXE
    let list = reg.list();
    assert.equal(list.length, 1);
    assert.equal(list[0]!.id, null, "not identified before the boot script");
    assert.equal(
      list[0]!.stage,
      Stage.Firmware,
      "iPXE's DISCOVER after the firmware file is the same boot",
    );

    reg.record({
      nodeId: "abcd1234",
      mac,
      uuid: "u",
      ip: "10.0.0.5",
      machine: "default",
      stage: Stage.Script,
      source: "http",
      at: 1300,
    });
    reg.record({ mac, ip: "10.0.0.5", stage: Stage.Dhcp, source: "dhcp", at: 1350 }); // initramfs DHCP
    reg.record({ nodeId: "abcd1234", stage: Stage.Kernel, source: "http", at: 1400 });
    reg.record({ nodeId: "abcd1234", stage: Stage.Initrd, source: "http", at: 1500 });
    reg.record({ nodeId: "abcd1234", stage: Stage.Apkovl, source: "http", at: 1600 });
    list = reg.list();
    assert.equal(list.length, 1);
    const n = list[0]!;
    assert.equal(n.id, "abcd1234");
    assert.equal(n.stage, Stage.Apkovl, "a later DHCP does not move the stage back");
    assert.equal(n.machine, "default");
    assert.equal(n.firstSeen, 1000, "first seen at the firmware DISCOVER, before it identified");
    assert.deepEqual(n.stages, {
      discovered: 1000,
      dhcp: 1100,
      firmware: 1200,
      script: 1300,
      kernel: 1400,
      initrd: 1500,
      apkovl: 1600,
    });
    const d = reg.get(mac);
    assert.equal(d?.id, "abcd1234");
    assert.equal(d?.events.length, 9);
    assert.deepEqual(d?.events[2]?.detail, { file: "undionly.kpxe" });

    // A new firmware DISCOVER starts a new boot: old stage times drop out.
    reg.record({ mac, stage: Stage.Discovered, source: "dhcp", at: 5000 });
    const after = reg.get("abcd1234")!;
    assert.equal(after.stage, Stage.Discovered);
    assert.deepEqual(after.stages, { discovered: 5000 });
    assert.equal(reg.get("ffffffff"), undefined);
    reg.close();
    s.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
