#!/usr/bin/env bash
# Builds the QEMU e2e boot assets (Debian kernel + busybox initramfs with
# src/lab/assets/init) into /var/cache/mesh-e2e, or finds them there, and
# prints their paths as shell assignments. CI can run it once to warm the cache;
# the tests call the same prepareBootAssets() themselves. Needs root, apt-get,
# dpkg-deb, cpio, gzip (see tests/lib/qemu.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./tools/deno eval '
import { prepareBootAssets } from "./tests/lib/qemu.ts";
const a = await prepareBootAssets();
console.log(`MESH_E2E_DIR=${a.dir}\nMESH_E2E_KERNEL=${a.kernel}\nMESH_E2E_INITRD=${a.initrd}`);
'
