import assert from "node:assert/strict";
import fc from "fast-check";
import { canonicalUuid, isNodeId, NODE_ID_SHELL, nodeIdFor } from "./mod.ts";

Deno.test("nodeIdFor() hashes the lower-case UUID, or the MAC when the UUID is unusable", () => {
  // sha256("uuid:7e570000-0000-4000-8000-525400110101") starts with 05358938 (the
  // value the reference QEMU recipe printed for that VM).
  assert.deepEqual(
    nodeIdFor({ uuid: "7E570000-0000-4000-8000-525400110101", mac: "52:54:00:11:01:01" }),
    {
      id: "05358938",
      from: "uuid",
      input: "uuid:7e570000-0000-4000-8000-525400110101",
    },
  );
  const byMac = nodeIdFor({
    uuid: "00000000-0000-0000-0000-000000000000",
    mac: "52-54-00-11-01-01",
  });
  assert.equal(byMac.from, "mac");
  assert.equal(byMac.input, "mac:52:54:00:11:01:01");
  assert.ok(isNodeId(byMac.id));
  assert.equal(nodeIdFor({ mac: "52:54:00:11:01:01" }).id, byMac.id);
  assert.equal(nodeIdFor({ uuid: "not-a-uuid", mac: "52:54:00:11:01:01" }).id, byMac.id);
  assert.throws(() => nodeIdFor({ uuid: null, mac: "zz" }), RangeError);
});

Deno.test("canonicalUuid() rejects all-zero, all-ff and malformed UUIDs", () => {
  assert.equal(canonicalUuid("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"), null);
  assert.equal(canonicalUuid(""), null);
  assert.equal(canonicalUuid("1234"), null);
  assert.equal(
    canonicalUuid(" 7E570000-0000-4000-8000-525400110101\n"),
    "7e570000-0000-4000-8000-525400110101",
  );
});

async function shellId(dir: string): Promise<string> {
  // The one-liner reads sysfs; point it at files the test controls.
  // (stderr is checked too: a missing DMI file must not print noise.)
  const script = NODE_ID_SHELL.replaceAll("/sys/class/dmi/id/product_uuid", `${dir}/product_uuid`)
    .replaceAll("/sys/class/net/", `${dir}/net/`);
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(new TextDecoder().decode(out.stderr), "");
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("NODE_ID_SHELL computes the same id as nodeIdFor()", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/net/eth0`, { recursive: true });
    await fc.assert(
      fc.asyncProperty(
        fc.uuid(),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.boolean(),
        async (uuid, macBytes, zero) => {
          const mac = [...macBytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
          const u = zero ? "00000000-0000-0000-0000-000000000000" : uuid.toUpperCase();
          await Deno.writeTextFile(`${dir}/product_uuid`, `${u}\n`);
          await Deno.writeTextFile(`${dir}/net/eth0/address`, `${mac.toUpperCase()}\n`);
          assert.equal(await shellId(dir), nodeIdFor({ uuid: u, mac }).id);
        },
      ),
      { numRuns: 25 },
    );
    // No DMI at all (some ARM boards): the MAC decides.
    await Deno.remove(`${dir}/product_uuid`);
    await Deno.writeTextFile(`${dir}/net/eth0/address`, "52:54:00:11:01:01\n");
    assert.equal(await shellId(dir), nodeIdFor({ mac: "52:54:00:11:01:01" }).id);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
