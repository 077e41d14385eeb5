#!/usr/bin/env bash
# Runs the Plasma compatibility suite with the real pyarrow 11 client:
# our tests in test/compat plus pyarrow's own tests/test_plasma.py, unmodified.
#
# Usage: scripts/run-compat-tests.sh [--store plasmapool|reference|PATH] [pytest args...]
#   --store   the store under test (default: $PLASMA_STORE, else plasmapool);
#             "reference" is the plasma-store-server bundled in the pyarrow wheel
#   e.g.      scripts/run-compat-tests.sh -m upstream        (only pyarrow's tests)
#             scripts/run-compat-tests.sh -m "not upstream"  (only ours)
#             scripts/run-compat-tests.sh -k evict -x
# Writes junit.xml, pytest.log and summary.txt to $COMPAT_RESULTS_DIR
# (default .venv/compat-results). Exit status: pytest's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STORE="${PLASMA_STORE:-plasmapool}"
RESULTS="${COMPAT_RESULTS_DIR:-$VENV/compat-results}"

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --store) STORE="${2:?--store needs a value}"; shift 2 ;;
    --store=*) STORE="${1#--store=}"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

say() { echo "compat: $*"; }

# The venv: created on first use, a quick no-op when up to date.
"$ROOT/scripts/setup-python.sh" --no-notebooks | sed -n '/error/p;/creating/p;/installed/p'
PY="$VENV/bin/python"
SITE="$("$PY" -c 'import os, pyarrow; print(os.path.dirname(pyarrow.__file__))' 2>/dev/null)"
UPSTREAM="$SITE/tests/test_plasma.py"

# Preflight: the plasmapool store must start, or every test would fail the same way.
if [ "$STORE" = "plasmapool" ]; then
  if [ ! -f "$ROOT/dist/cli/main.js" ]; then
    echo "compat: error: $ROOT/dist/cli/main.js is missing: run 'npm run build' first" >&2
    exit 1
  fi
  probe="$(mktemp -d /tmp/ppcompat-probe-XXXXXX)"
  "$ROOT/scripts/plasma-store-server" -s "$probe/s" -m 1000000 >"$probe/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    [ -S "$probe/s" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -S "$probe/s" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "compat: error: the plasmapool store did not start ('node bin/plasmapool.js store -s SOCK -m 1000000'):" >&2
    sed 's/^/  | /' "$probe/log" >&2
    rm -rf "$probe"
    exit 1
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  rm -rf "$probe"
fi

mkdir -p "$RESULTS"
say "store under test: $STORE; results in $RESULTS"
cd "$ROOT"
set +e
env -u PLASMA_VALGRIND PLASMA_STORE="$STORE" \
  "$PY" -m pytest -c test/compat/pytest.ini -q \
  --junitxml="$RESULTS/junit.xml" -o junit_suite_name="plasma-compat-$STORE" \
  test/compat "$UPSTREAM" ${args[@]+"${args[@]}"} 2>&1 | tee "$RESULTS/pytest.log"
status=${PIPESTATUS[0]}
set -e
# The short test summary (failures, errors, skip reasons) and the final count.
sed -n '/short test summary info/,$p' "$RESULTS/pytest.log" >"$RESULTS/summary.txt"
[ -s "$RESULTS/summary.txt" ] || tail -n 1 "$RESULTS/pytest.log" >"$RESULTS/summary.txt"
exit "$status"
