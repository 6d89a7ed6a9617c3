#!/usr/bin/env bash
# The main job on the bundled example: installs what it needs, then runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
./tools/deno task -q demo "$@"
