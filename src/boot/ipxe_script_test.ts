import assert from "node:assert/strict";
import fc from "fast-check";
import { bootCmdline, type BootScriptSpec, ipxeSafe, renderBootScript } from "./ipxe_script.ts";

const spec: BootScriptSpec = {
  nodeId: "1a2b3c4d",
  machine: "web-01",
  base: "http://10.11.0.1",
  kernelPath: "/boot/vmlinuz-lts",
  initrdPath: "/boot/initramfs-lts",
  modloopPath: "/boot/modloop-lts",
  repoPath: "/alpine/v3.20/main",
  machineCmdline: "console=ttyS0,115200",
  extraCmdline: "nomodeset",
};

Deno.test("renderBootScript: whole script for a known node", () => {
  assert.equal(
    renderBootScript(spec),
    [
      "#!ipxe",
      "# mesh node 1a2b3c4d machine web-01",
      "kernel http://10.11.0.1/boot/vmlinuz-lts initrd=initramfs-lts ip=dhcp BOOTIF=01-${mac:hexhyp} " +
      "alpine_repo=http://10.11.0.1/alpine/v3.20/main modloop=http://10.11.0.1/boot/modloop-lts " +
      "apkovl=http://10.11.0.1/apkovl/1a2b3c4d.tar.gz modules=loop,squashfs quiet " +
      "console=ttyS0,115200 nomodeset",
      "initrd http://10.11.0.1/boot/initramfs-lts",
      "boot",
      "",
    ].join("\n"),
  );
});

Deno.test("renderBootScript: unidentified node gets the Alpine {MAC} overlay form", () => {
  const text = renderBootScript({
    ...spec,
    nodeId: null,
    machine: "default",
    machineCmdline: undefined,
    extraCmdline: "",
    base: "http://10.11.0.1:8080/",
  });
  assert.equal(
    text,
    [
      "#!ipxe",
      "# mesh node unknown machine default",
      "kernel http://10.11.0.1:8080/boot/vmlinuz-lts initrd=initramfs-lts ip=dhcp BOOTIF=01-${mac:hexhyp} " +
      "alpine_repo=http://10.11.0.1:8080/alpine/v3.20/main modloop=http://10.11.0.1:8080/boot/modloop-lts " +
      "apkovl=http://10.11.0.1:8080/apkovl/{MAC}.tar.gz modules=loop,squashfs quiet",
      "initrd http://10.11.0.1:8080/boot/initramfs-lts",
      "boot",
      "",
    ].join("\n"),
  );
});

Deno.test("renderBootScript: hostile values cannot add commands or expansions", () => {
  const text = renderBootScript({
    ...spec,
    nodeId: "1a2b3c4d\nshell",
    machine: "evil\nchain http://x/",
    machineCmdline: "a=1\nshell || chain ${x} && exit",
    extraCmdline: "#!ipxe\rboot",
  });
  const lines = text.split("\n");
  assert.equal(lines.length, 6);
  assert.deepEqual(lines.map((l) => l.split(" ")[0]), [
    "#!ipxe",
    "#",
    "kernel",
    "initrd",
    "boot",
    "",
  ]);
  assert.ok(lines[1]!.includes("node unknown"));
  assert.ok(!lines[2]!.includes("${x}"));
  assert.ok(!lines[2]!.includes("||"));
});

Deno.test("ipxeSafe: output never holds control characters or iPXE meta characters (property)", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => {
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\x00-\x1f\x7f$|&\\"'#`]/.test(ipxeSafe(s)));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("renderBootScript: any machine/cmdline text yields exactly five commands (property)", () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.string(), (machine, cmd, extra) => {
      const lines = renderBootScript({ ...spec, machine, machineCmdline: cmd, extraCmdline: extra })
        .split("\n");
      assert.equal(lines.length, 6);
      assert.equal(lines[0], "#!ipxe");
      assert.equal(lines[4], "boot");
      assert.ok(!lines[2]!.replace("${mac:hexhyp}", "").includes("$"));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("bootCmdline: several repositories become one comma list of URLs", () => {
  const line = bootCmdline({
    base: "http://10.11.0.1",
    nodeId: null,
    machine: "default",
    kernelPath: "/k",
    initrdPath: "/i",
    modloopPath: "/m",
    repoPath: "/alpine/v3.20/main,/alpine/v3.20/community",
  });
  assert.match(
    line,
    / alpine_repo=http:\/\/10\.11\.0\.1\/alpine\/v3\.20\/main,http:\/\/10\.11\.0\.1\/alpine\/v3\.20\/community /,
  );
});
