#!/usr/bin/env bash
# The reliability suite: fuzzing, kill -9 storms, load with bounded memory, clients that never
# read, peer ports probed by another user, store crashes and recovery.
#   scripts/run-reliability.sh           full scale (tens of minutes)
#   scripts/run-reliability.sh --quick   the scale CI runs (a few minutes)
# Figures of each check go to reliability-results/*.json and are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export RELIABILITY_SCALE=full
for arg in "$@"; do
  case "$arg" in
    --quick) RELIABILITY_SCALE=quick ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done
rm -rf reliability-results
mkdir -p reliability-results
status=0
node node_modules/vitest/vitest.mjs run --config vitest.reliability.config.ts || status=$?
echo "== reliability figures ($RELIABILITY_SCALE)"
for f in reliability-results/*.json; do
  [ -e "$f" ] && echo "$(basename "$f" .json): $(cat "$f")"
done
exit "$status"
