#!/usr/bin/env bash
# Runs the Plasma compatibility suite with the real pyarrow 11 client:
# our tests in test/compat plus pyarrow's own tests/test_plasma.py, unmodified.
#
# Usage: scripts/run-compat-tests.sh [--store plasmapool|reference|PATH] [--keep-leftovers]
#                                     [pytest args...]
#   --store   the store under test (default: $PLASMA_STORE, else plasmapool);
#             "reference" is the plasma-store-server bundled in the pyarrow wheel
#   --keep-leftovers  do not delete region files that dead stores of this run
#             left in /dev/shm (they are always listed)
#   e.g.      scripts/run-compat-tests.sh -m upstream        (only pyarrow's tests)
#             scripts/run-compat-tests.sh -m "not upstream"  (only ours)
#             scripts/run-compat-tests.sh -k evict -x
# Writes junit.xml, pytest.log and summary.txt to $COMPAT_RESULTS_DIR
# (default .venv/compat-results). Exit status: pytest's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STORE="${PLASMA_STORE:-plasmapool}"
KEEP_LEFTOVERS=0
RESULTS="${COMPAT_RESULTS_DIR:-$VENV/compat-results}"

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --store) STORE="${2:?--store needs a value}"; shift 2 ;;
    --store=*) STORE="${1#--store=}"; shift ;;
    --keep-leftovers) KEEP_LEFTOVERS=1; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# Region files of dead stores: a store killed with SIGKILL (pyarrow's own
# start_plasma_store() does that on exit) cannot remove a named file, and a
# pre-faulted region is real memory. List what this run left; remove it.
shm_before="$(ls /dev/shm 2>/dev/null | grep '^plasmapool-' || true)"
running() { # a live process, not a zombie or one being torn down
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
report_leftovers() {
  local f pid try left=()
  for f in $(ls /dev/shm 2>/dev/null | grep '^plasmapool-' || true); do
    grep -qxF "$f" <<<"$shm_before" && continue
    pid="$(sed -nE 's/.*-([0-9]+)-[0-9a-f]+\.region$/\1/p' <<<"$f")"
    # A store SIGKILLed at the very end may still be exiting: give it 2 s.
    for try in $(seq 1 20); do
      [ -n "$pid" ] && running "$pid" || break
      sleep 0.1
    done
    [ -n "$pid" ] && running "$pid" && continue
    left+=("$f")
  done
  [ ${#left[@]} -eq 0 ] && return
  say "warning: ${#left[@]} region file(s) left in /dev/shm by stores of this run that are gone" \
    "($(cd /dev/shm && du -ch "${left[@]}" | tail -n1 | cut -f1)); see test_no_files_left_in_the_directory_after_the_store_ends"
  if [ "$KEEP_LEFTOVERS" = 1 ]; then
    printf '  /dev/shm/%s\n' "${left[@]}"
  else
    (cd /dev/shm && rm -f -- "${left[@]}")
    say "removed them (--keep-leftovers keeps them)"
  fi
}

mkdir -p "$RESULTS"
say "store under test: $STORE; results in $RESULTS"
cd "$ROOT"
set +e
env -u PLASMA_VALGRIND PLASMA_STORE="$STORE" \
  "$PY" -m pytest -c test/compat/pytest.ini --rootdir "$ROOT" -q \
  --junitxml="$RESULTS/junit.xml" -o junit_suite_name="plasma-compat-$STORE" \
  test/compat "$UPSTREAM" ${args[@]+"${args[@]}"} 2>&1 | tee "$RESULTS/pytest.log"
status=${PIPESTATUS[0]}
set -e
report_leftovers
# The short test summary (failures, errors, skip reasons) and the final count.
sed -n '/short test summary info/,$p' "$RESULTS/pytest.log" >"$RESULTS/summary.txt"
[ -s "$RESULTS/summary.txt" ] || tail -n 1 "$RESULTS/pytest.log" >"$RESULTS/summary.txt"
exit "$status"
