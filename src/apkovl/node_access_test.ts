import assert from "node:assert/strict";
import { parseManifest } from "../config/mod.ts";
import type { Machine } from "../config/mod.ts";
import { buildOverlay } from "./overlay.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyKeyKey mesh-central-node";
const enc = new TextEncoder();
const dec = new TextDecoder();

function machine(manifest: string): Machine {
  const m = parseManifest(manifest, "/h/machines/m/manifest", "/h");
  assert.deepEqual(m.issues, []);
  return {
    folder: "m",
    dir: "/h/machines/m",
    id: "0a0b0c0d",
    manifest: m.value,
    groups: [],
    packages: [],
    skip: false,
  };
}

function build(manifest: string, access = true) {
  const sources = new Map([["/h/keys", enc.encode("ssh-rsa OTHER admin\n")]]);
  const r = buildOverlay(
    machine(manifest),
    new Map(),
    sources,
    access ? { sshPublicKey: KEY } : undefined,
  );
  assert.deepEqual(r.issues, []);
  return new Map(r.entries.map((e) => [e.path, e]));
}

Deno.test("node access: root's key, sshd in the default runlevel, openssh, Alpine's defaults kept", () => {
  const t = build("");
  const keys = t.get("root/.ssh/authorized_keys")!;
  assert.equal(dec.decode(keys.content), `${KEY}\n`);
  assert.equal(keys.mode, 0o600);
  assert.equal(t.get("root/.ssh")!.mode, 0o700);
  assert.equal(t.get("etc/runlevels/default/sshd")!.linkname, "/etc/init.d/sshd");
  assert.equal(dec.decode(t.get("etc/apk/world")!.content), "openssh\n");
  // the sshd link alone must not keep Alpine from adding its default boot services
  assert.ok(t.has("etc/.default_boot_services"));
});

Deno.test("node access: appended to a manifest's authorized_keys; none without a key", () => {
  const t = build("O MODE=root:root:0600 SRC=/host0/keys TGT=/root/.ssh/authorized_keys\n");
  assert.equal(
    dec.decode(t.get("root/.ssh/authorized_keys")!.content),
    `ssh-rsa OTHER admin\n${KEY}\n`,
  );
  const none = build("", false);
  assert.ok(!none.has("root/.ssh/authorized_keys") && !none.has("etc/runlevels/default/sshd"));
  assert.ok(!none.has("etc/apk/world"));
});
