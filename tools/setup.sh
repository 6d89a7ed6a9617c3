#!/usr/bin/env bash
# Installs what mesh's demo and tests need on a fresh Debian/Ubuntu machine.
# Idempotent: installs only what is missing. Needs root for apt; without root
# it only reports what is missing (network tests then skip with a reason).
set -euo pipefail

# Debian packages: real clients and servers the tests and benchmarks run.
APT_PACKAGES=(
  ca-certificates curl wget cpio gzip tar xz-utils python3 iproute2 iputils-ping iputils-arping
  tcpdump iptables busybox udhcpc isc-dhcp-client dnsmasq-base tftp-hpa tftpd-hpa atftp
  kea-dhcp4-server kea-admin nginx-light wrk apache2-utils
  qemu-system-x86 ipxe ovmf
  # workloads: qcow2 volumes (qemu-img) and the graceful QMP powerdown (socat) on lab nodes
  qemu-utils socat
  # the status page's browser test (playwright-core drives chromium), and
  # promtool (package prometheus; its daemon is not started) judging /metrics
  chromium prometheus
  openssh-client openssh-server
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v npx >/dev/null 2>&1; then missing+=(nodejs npm); fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root, cannot install: ${missing[*]} (tests that need them will be skipped)" >&2
  else
    echo "setup: installing ${missing[*]}" >&2
    # Keep package scripts from starting system-wide dnsmasq/tftpd/nginx/kea
    # services: the tests start their own, inside network namespaces.
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  fi
fi

# Deno itself comes from npm, pinned; the first call downloads it. From then
# on tools/deno runs it from npm's cache.
npx --yes deno@2.9.6 --version >/dev/null
cd "$(dirname "$0")/.."
DENO=./tools/deno

# The npm packages (package.json), exactly as deno.lock says, into
# node_modules/. deno.json sets "nodeModulesDir": "manual": at run time Deno
# reads only node_modules/, so no start of mesh needs the registry or
# anything in DENO_DIR. (With "auto", every start looks up each npm package
# of its module graph in DENO_DIR's registry cache, and downloads what it
# does not find there: a fresh DENO_DIR meant "Download https://registry..."
# on every run.)
"$DENO" install --frozen --quiet

# The QEMU tests' boot assets (a Debian kernel and a busybox initramfs, from
# apt) are made now, so that the tests themselves never download anything.
if [ "$(id -u)" -eq 0 ] && command -v qemu-system-x86_64 >/dev/null 2>&1; then
  ./tools/e2e_assets.sh >/dev/null
fi
