#!/usr/bin/env bash
# Runs the plasmapool Python client's pytest suite (python/tests) on today's stack:
# .venv-modern (Python >= 3.12, newest pyarrow, numpy 2; scripts/setup-python-modern.sh)
# against `plasmapool store` and the reference plasma-store-server of pyarrow 11
# (.venv; scripts/setup-python.sh), with the pyarrow 11 client and the TypeScript
# client as interop parties. Both venvs are created on first use.
#
# Usage: python/run-tests.sh [pytest args...]
#   PLASMAPOOL_TEST_STORES=plasmapool|reference   only one store kind
# Writes junit.xml, pytest.log and summary.txt to $PYCLIENT_RESULTS_DIR
# (default .venv-modern/test-results). Exit status: pytest's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RESULTS="${PYCLIENT_RESULTS_DIR:-$ROOT/.venv-modern/test-results}"

say() { echo "python-client: $*"; }

[ -f "$ROOT/dist/cli/main.js" ] || { echo "python-client: error: $ROOT/dist is missing: run 'npm run build' first" >&2; exit 1; }
"$ROOT/scripts/setup-python.sh" --no-notebooks | sed -n '/error/p;/creating/p;/installed/p'
"$ROOT/scripts/setup-python-modern.sh" | sed -n '/error/p;/creating/p;/installed/p;/venv:/p;/pyarrow:/p'

mkdir -p "$RESULTS"
cd "$ROOT/python"
set +e
"$ROOT/.venv-modern/bin/python" -m pytest -c pytest.ini -q --junitxml="$RESULTS/junit.xml" \
  -o junit_suite_name=plasmapool-python-client tests "$@" 2>&1 | tee "$RESULTS/pytest.log"
status=${PIPESTATUS[0]}
set -e
sed -n '/short test summary info/,$p' "$RESULTS/pytest.log" >"$RESULTS/summary.txt"
[ -s "$RESULTS/summary.txt" ] || tail -n 1 "$RESULTS/pytest.log" >"$RESULTS/summary.txt"
exit "$status"
