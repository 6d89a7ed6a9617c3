#!/usr/bin/env bash
# The main job on the bundled example: installs what it needs, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
npx --yes deno@2.9.6 task demo "$@"
