#!/usr/bin/env bash
# The whole test suite: installs what it needs, then type-checks, lints and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
DENO=(npx --yes deno@2.9.6)
"${DENO[@]}" install --quiet
"${DENO[@]}" task check
"${DENO[@]}" lint
"${DENO[@]}" task test
