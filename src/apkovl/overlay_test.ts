import assert from "node:assert/strict";
import { parseManifest } from "../config/mod.ts";
import type { Group, Machine } from "../config/mod.ts";
import { buildOverlay } from "./overlay.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const SOURCES = new Map([
  ["/h/a", enc.encode("from a\n")],
  ["/h/b", enc.encode("from b\n")],
  ["/h/world", enc.encode("zsh\nbash\n")],
]);

function group(name: string, manifest: string, packages: string[] = []): Group {
  const file = `/h/groups/${name}/manifest`;
  const m = parseManifest(manifest, file, "/h");
  assert.deepEqual(m.issues, []);
  return { name, dir: `/h/groups/${name}`, manifest: m.value, packages };
}

function machine(manifest: string, groups: string[] = [], packages: string[] = []): Machine {
  const m = parseManifest(manifest, "/h/machines/m/manifest", "/h");
  assert.deepEqual(m.issues, []);
  return {
    folder: "m",
    dir: "/h/machines/m",
    id: "0a0b0c0d",
    manifest: m.value,
    groups,
    packages,
    skip: false,
  };
}

function view(m: Machine, groups: Group[]) {
  const r = buildOverlay(m, new Map(groups.map((g) => [g.name, g])), SOURCES);
  const files = Object.fromEntries(r.entries.map((e) => [
    e.path,
    e.type === "file"
      ? `${e.uid}:${e.gid}:${e.mode.toString(8)} ${dec.decode(e.content)}`
      : e.type === "dir"
      ? `dir ${e.uid}:${e.gid}:${e.mode.toString(8)}`
      : `-> ${e.linkname}`,
  ]));
  return { files, issues: r.issues, paths: r.entries.map((e) => e.path) };
}

Deno.test("overlay: groups apply in listed order, then the machine overrides", () => {
  const g1 = group(
    "g1",
    "O MODE=root:root:0644 SRC=/host0/a TGT=/etc/motd\nL SRC=/x TGT=/etc/link\n",
  );
  const g2 = group("g2", "O MODE=root:wheel:0600 SRC=/host0/b TGT=/etc/motd\n");
  const m = machine("L SRC=/y TGT=/etc/link\n", ["g1", "g2"]);
  const v = view(m, [g1, g2]);
  assert.deepEqual(v.issues, []);
  assert.equal(v.files["etc/motd"], "0:10:600 from b\n");
  assert.equal(v.files["etc/link"], "-> /y");
  const reversed = view(machine("", ["g2", "g1"]), [g1, g2]);
  assert.equal(reversed.files["etc/motd"], "0:0:644 from a\n");
});

Deno.test("overlay: append creates with MODE, then appends keeping the mode", () => {
  const m = machine(
    "A MODE=root:root:0640 SRC=/host0/a TGT=/etc/motd\nA MODE=root:root:0777 SRC=/host0/b TGT=/etc/motd\n",
  );
  assert.equal(view(m, []).files["etc/motd"], "0:0:640 from a\nfrom b\n");
});

Deno.test("overlay: implicit parents root 0755, D sets its own mode, sorted paths", () => {
  const v = view(
    machine(
      "D MODE=root:kvm:0770 TGT=/var/lib/vm\nO MODE=root:root:0644 SRC=/host0/a TGT=/var/lib/vm/x\n",
    ),
    [],
  );
  assert.deepEqual(v.paths, [
    "etc",
    "etc/.default_boot_services",
    "etc/mesh",
    "etc/mesh/genid.sh",
    "etc/mesh/node-id",
    "var",
    "var/lib",
    "var/lib/vm",
    "var/lib/vm/x",
  ]);
  assert.equal(v.files["var/lib"], "dir 0:0:755");
  assert.equal(v.files["var/lib/vm"], "dir 0:34:770");
});

Deno.test("overlay: world is the sorted union of groups, machine and a manifest-written world", () => {
  const g = group("g", "", ["openssh", "chrony"]);
  const m = machine("O MODE=root:root:0600 SRC=/host0/world TGT=/etc/apk/world\n", ["g"], [
    "chrony",
    "mdadm",
  ]);
  assert.equal(view(m, [g]).files["etc/apk/world"], "0:0:600 bash\nchrony\nmdadm\nopenssh\nzsh\n");
  assert.equal(view(machine(""), []).files["etc/apk/world"], undefined);
});

Deno.test("overlay: .default_boot_services only without etc/runlevels", () => {
  assert.equal(view(machine(""), []).files["etc/.default_boot_services"], "0:0:644 ");
  const withRunlevels = view(
    machine("L SRC=/etc/init.d/sshd TGT=/etc/runlevels/default/sshd\n"),
    [],
  );
  assert.equal(withRunlevels.files["etc/.default_boot_services"], undefined);
});

Deno.test("overlay: conflicts are issues at the offending line", () => {
  const v = view(
    machine(
      "D MODE=root:root:0755 TGT=/etc/x\nO MODE=root:root:0644 SRC=/host0/a TGT=/etc/x\n" +
        "O MODE=root:root:0644 SRC=/host0/a TGT=/f\nD MODE=root:root:0755 TGT=/f/sub\n" +
        "L SRC=/z TGT=/l\nA MODE=root:root:0644 SRC=/host0/a TGT=/l\n" +
        `L SRC=/${"z".repeat(120)} TGT=/long\n`,
    ),
    [],
  );
  assert.deepEqual(v.issues.map((i) => `${i.line} ${i.message}`), [
    "2 /etc/x is a directory (from /h/machines/m/manifest:1)",
    "4 /f is a file (from /h/machines/m/manifest:3), not a directory",
    "6 cannot append to /l: it is a symlink (from /h/machines/m/manifest:5)",
    "7 /long: symlink target longer than 100 bytes",
  ]);
});
