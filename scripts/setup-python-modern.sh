#!/usr/bin/env bash
# Sets up <repo>/.venv-modern: today's Python stack for the plasmapool Python
# client (python/): Python >= 3.12, the newest pyarrow, numpy 2, pytest, and the
# client itself installed editable from python/.
#
# The interpreter: $PYTHON_MODERN if set, else the newest Python >= 3.12 under
# pyenv ($(pyenv root)/versions, /root/.pyenv/versions), else python3.13/3.12 on
# PATH. Fails with a clear message when none exists.
#
# Idempotent: a stamp in the venv records the interpreter and the hashes of the
# requirement files; a second run with nothing changed only prints the summary.
#
# Usage: scripts/setup-python-modern.sh [--recreate] [--relock]
#   --recreate  delete .venv-modern first
#   --relock    install from the top-level pins without the lock, then rewrite
#               python/requirements-modern-lock.txt from the result
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-modern"
REQ="$ROOT/python/requirements-modern.txt"
LOCK="$ROOT/python/requirements-modern-lock.txt"
STAMP="$VENV/.plasmapool-modern-setup"

recreate=0
relock=0
for arg in "$@"; do
  case "$arg" in
    --recreate) recreate=1 ;;
    --relock) relock=1; recreate=1 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-python-modern: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup-python-modern: $*"; }
die() { echo "setup-python-modern: error: $*" >&2; exit 1; }

# --- interpreter -------------------------------------------------------------------
version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
is_modern() { # Python >= 3.12
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null
}
find_python() {
  if [ -n "${PYTHON_MODERN:-}" ]; then
    is_modern "$PYTHON_MODERN" || die "PYTHON_MODERN=$PYTHON_MODERN is not a Python >= 3.12"
    echo "$PYTHON_MODERN"
    return
  fi
  local roots=() root candidate best="" best_key=0 key
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root 2>/dev/null)")
  roots+=("${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv)
  for root in "${roots[@]}"; do
    [ -n "$root" ] && [ -d "$root/versions" ] || continue
    for candidate in "$root"/versions/3.*/bin/python3; do
      [ -x "$candidate" ] && is_modern "$candidate" || continue
      key="$("$candidate" -c 'import sys; print(sys.version_info[0]*10000 + sys.version_info[1]*100 + sys.version_info[2])')"
      if [ "$key" -gt "$best_key" ]; then best="$candidate"; best_key="$key"; fi
    done
  done
  if [ -z "$best" ]; then
    for candidate in python3.14 python3.13 python3.12 python3; do
      command -v "$candidate" >/dev/null 2>&1 && is_modern "$(command -v "$candidate")" || continue
      best="$(command -v "$candidate")"
      break
    done
  fi
  [ -n "$best" ] || die "no Python >= 3.12 found (looked under pyenv's versions: ${roots[*]}, and for python3.12+ on PATH).
  Install one (e.g. 'pyenv install 3.13') or set PYTHON_MODERN=/path/to/python3.12+"
  echo "$best"
}
PYTHON="$(find_python)"
py_version="$(version_of "$PYTHON")"

# --- venv ----------------------------------------------------------------------------
if [ "$recreate" = 1 ] && [ -e "$VENV" ]; then
  say "removing $VENV"
  rm -rf "$VENV"
fi
if [ -x "$VENV/bin/python" ] && [ "$(version_of "$VENV/bin/python")" = "$py_version" ] &&
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  :
else
  [ -e "$VENV" ] && say "$VENV is unusable or has another Python: recreating it"
  rm -rf "$VENV"
  say "creating $VENV with $PYTHON (Python $py_version)"
  "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv $VENV' failed"
fi
VPY="$VENV/bin/python"

# --- packages --------------------------------------------------------------------------
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
[ "$relock" = 1 ] || [ -f "$LOCK" ] || die "${LOCK#$ROOT/} is missing (run with --relock to create it)"
inputs=("$REQ" "$ROOT/python/pyproject.toml")
[ "$relock" = 0 ] && inputs+=("$LOCK")
want="python=$py_version packages=$(hash_of "${inputs[@]}")"
if [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
  say "packages up to date"
else
  req_args=(-r "$REQ")
  [ "$relock" = 0 ] && req_args+=(-c "$LOCK")
  say "pip install ${req_args[*]//$ROOT\//}"
  "$VPY" -m pip install --disable-pip-version-check -q "${req_args[@]}"
  # The client itself, editable: tests import the working tree's python/plasmapool.
  "$VPY" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$ROOT/python"
  if [ "$relock" = 1 ]; then
    {
      echo "# Frozen by 'scripts/setup-python-modern.sh --relock' (Python $py_version)."
      echo "# A pip constraints file: every package, direct or transitive, that"
      echo "# setup-python-modern.sh may install. Edit python/requirements-modern.txt, then relock."
      "$VPY" -m pip freeze --all --exclude-editable | grep -v -E '^(pip)==' | LC_ALL=C sort -f
    } >"$LOCK"
    say "wrote ${LOCK#$ROOT/}"
    want="python=$py_version packages=$(hash_of "$REQ" "$ROOT/python/pyproject.toml" "$LOCK")"
  fi
  echo "$want" >"$STAMP"
  say "installed packages"
fi

read -r PA NP < <("$VPY" -c 'import pyarrow, numpy; print(pyarrow.__version__, numpy.__version__)')
case "$NP" in 2.*) ;; *) die "$VENV has numpy $NP, expected numpy 2" ;; esac
"$VPY" -c 'import plasmapool' || die "plasmapool does not import in $VENV"
say "done"
echo "  venv:    $VENV (Python $py_version, $PYTHON)"
echo "  pyarrow: $PA, numpy $NP"
