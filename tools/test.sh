#!/usr/bin/env bash
# The whole test suite: installs what it needs, then type-checks, lints and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./tools/setup.sh
DENO=(./tools/deno)
"${DENO[@]}" task check
"${DENO[@]}" lint
"${DENO[@]}" task layers
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
NO_COLOR=1 "${DENO[@]}" task test 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
# Deno's own summary, restated as the plain "N passed, N failed" line.
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)
passed=$(sed -E 's/.*\| ([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| ([0-9]+) failed.*/\1/' <<<"$summary")
ignored=$(grep -oE '[0-9]+ ignored' <<<"$summary" | cut -d' ' -f1 || true)
if [ -n "$summary" ]; then
  echo "${passed} passed, ${failed} failed, ${ignored:-0} skipped"
fi
exit "$code"
