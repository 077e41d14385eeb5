#!/usr/bin/env bash
# Sets up <repo>/.venv: the real pyarrow 11 Plasma client and the tools of the
# compatibility suite (test/compat), plus Jupyter's headless notebook runner
# with the tslab TypeScript kernel for notebooks/.
#
# Idempotent: a stamp in the venv records what was installed; a second run
# with unchanged requirement files only re-checks and prints the summary.
#
# Usage: scripts/setup-python.sh [--no-notebooks] [--recreate] [--relock]
#   --no-notebooks  skip Jupyter and tslab (enough for the compat suite)
#   --recreate      delete .venv first
#   --relock        recreate .venv from the top-level pins without the lock,
#                   then rewrite scripts/requirements-lock.txt from it
# Environment:
#   PYTHON            interpreter to build the venv from (default python3);
#                     must be 3.9-3.11: pyarrow 11 has no wheel for newer ones
#   TSLAB_BIN         an existing tslab executable to register instead of the
#                     one in node_modules/.bin or a private npm install
#   PIP_INDEX_URL, PIP_FIND_LINKS, ...  honoured as pip always does
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
TSLAB_VERSION="1.0.22" # keep equal to the devDependency pin in package.json
PIP_BOOTSTRAP_VERSION="24.3.1" # only used where python3 lacks ensurepip

REQ_COMPAT="$ROOT/test/compat/requirements.txt"
REQ_NOTEBOOKS="$ROOT/scripts/requirements-notebooks.txt"
LOCK="$ROOT/scripts/requirements-lock.txt"
STAMP="$VENV/.plasmapool-setup"

with_notebooks=1
recreate=0
relock=0
for arg in "$@"; do
  case "$arg" in
    --no-notebooks) with_notebooks=0 ;;
    --recreate) recreate=1 ;;
    --relock) relock=1; recreate=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-python: unknown option '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup-python: $*"; }
die() { echo "setup-python: error: $*" >&2; exit 1; }

# --- interpreter ---------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found; install Python 3.11 or set PYTHON=/path/to/python3.11"
py_version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$py_version" in
  3.9|3.10|3.11) ;;
  *) die "$PYTHON is Python $py_version; pyarrow 11.0.0 (the last release with Plasma) has wheels only up to 3.11. Set PYTHON=/path/to/python3.11" ;;
esac

# --- venv ----------------------------------------------------------------------
venv_ok() {
  [ -x "$VENV/bin/python" ] &&
    [ "$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$py_version" ] &&
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

bootstrap_pip() {
  # Debian's python3 without the python3-venv package has no ensurepip: build
  # the venv without pip and install pip from the package index (PyPI only).
  local index="${PIP_INDEX_URL:-https://pypi.org/simple}"
  local whl="pip-$PIP_BOOTSTRAP_VERSION-py3-none-any.whl"
  local tmp
  tmp="$(mktemp -d)"
  say "no ensurepip in $PYTHON: fetching $whl from $index"
  "$VENV/bin/python" - "$index" "$whl" "$tmp" <<'PY'
import hashlib, re, sys, urllib.parse, urllib.request
index, whl, tmp = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
page = urllib.request.urlopen(index + "/pip/", timeout=120).read().decode()
m = re.search(r'href="([^"]*/' + re.escape(whl) + r')(#sha256=([0-9a-f]+))?"', page)
if not m:
    sys.exit("setup-python: %s not listed at %s/pip/" % (whl, index))
url = urllib.parse.urljoin(index + "/pip/", m.group(1))
data = urllib.request.urlopen(url, timeout=300).read()
if m.group(3) and hashlib.sha256(data).hexdigest() != m.group(3):
    sys.exit("setup-python: sha256 mismatch for " + whl)
open(tmp + "/" + whl, "wb").write(data)
PY
  "$VENV/bin/python" "$tmp/$whl/pip" install --no-index -q "$tmp/$whl"
  rm -rf "$tmp"
}

if [ "$recreate" = 1 ] && [ -e "$VENV" ]; then
  say "removing $VENV"
  rm -rf "$VENV"
fi
if venv_ok; then
  say "reusing $VENV (Python $py_version)"
else
  [ -e "$VENV" ] && say "$VENV is unusable or has another Python: recreating it"
  rm -rf "$VENV"
  say "creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable)') (Python $py_version)"
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    "$PYTHON" -m venv --without-pip "$VENV" ||
      die "'$PYTHON -m venv' failed; on Debian install the python3-venv package"
    bootstrap_pip
  fi
fi
VPY="$VENV/bin/python"

# --- Python packages -------------------------------------------------------------
# The stamp holds one line per installed part; a part is current when the hash
# of its requirement file and the lock is unchanged.
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
lock_inputs=()
[ "$relock" = 0 ] && lock_inputs=("$LOCK")
[ "$relock" = 1 ] || [ -f "$LOCK" ] || die "$LOCK is missing (run with --relock to create it)"
want=("python=$py_version" "compat=$(hash_of "$REQ_COMPAT" "${lock_inputs[@]}")")
req_args=(-r "$REQ_COMPAT")
if [ "$with_notebooks" = 1 ]; then
  want+=("notebooks=$(hash_of "$REQ_NOTEBOOKS" "${lock_inputs[@]}")")
  req_args+=(-r "$REQ_NOTEBOOKS")
fi
[ "$relock" = 0 ] && req_args+=(-c "$LOCK")
current=1
for line in "${want[@]}"; do
  grep -qxF "$line" "$STAMP" 2>/dev/null || current=0
done
if [ "$current" = 1 ]; then
  say "Python packages up to date"
else
  say "pip install ${req_args[*]//$ROOT\//}"
  "$VPY" -m pip install --disable-pip-version-check -q "${req_args[@]}"
  printf '%s\n' "${want[@]}" >"$STAMP"
  say "installed Python packages"
fi

if [ "$relock" = 1 ]; then
  {
    echo "# Frozen from a fresh venv by 'scripts/setup-python.sh --relock' (Python $py_version)."
    echo "# A pip constraints file: the exact version of every package, direct or"
    echo "# transitive, that setup-python.sh may install. Change the top-level pins in"
    echo "# test/compat/requirements.txt or scripts/requirements-notebooks.txt, then relock."
    "$VPY" -m pip freeze --all | grep -v -E '^(pip|setuptools|wheel)==' | LC_ALL=C sort -f
  } >"$LOCK"
  say "wrote ${LOCK#$ROOT/} ($(grep -vc '^#' "$LOCK") packages)"
  # Hashes now include the lock, so that the next plain run is a no-op.
  want=("python=$py_version" "compat=$(hash_of "$REQ_COMPAT" "$LOCK")")
  [ "$with_notebooks" = 1 ] && want+=("notebooks=$(hash_of "$REQ_NOTEBOOKS" "$LOCK")")
  printf '%s\n' "${want[@]}" >"$STAMP"
fi

# --- facts about the pyarrow wheel that the suite relies on -------------------------
read -r PA_DIR PA_VERSION NP_VERSION < <("$VPY" -W ignore -c '
import os, numpy, pyarrow, pyarrow.plasma
print(os.path.dirname(pyarrow.__file__), pyarrow.__version__, numpy.__version__)')
[ "$PA_VERSION" = "11.0.0" ] || die "venv has pyarrow $PA_VERSION, expected 11.0.0"
case "$NP_VERSION" in 1.*) ;; *) die "venv has numpy $NP_VERSION; pyarrow 11 needs numpy 1.x" ;; esac
[ -x "$PA_DIR/plasma-store-server" ] ||
  die "$PA_DIR/plasma-store-server (the reference store bundled in the pyarrow wheel) is missing or not executable"
[ -f "$PA_DIR/tests/test_plasma.py" ] || die "$PA_DIR/tests/test_plasma.py (upstream Plasma tests) is missing"

# --- notebooks: tslab kernel registered inside the venv's Jupyter -------------------
TSLAB_STATUS="skipped (--no-notebooks)"
if [ "$with_notebooks" = 1 ]; then
  tslab="${TSLAB_BIN:-}"
  if [ -z "$tslab" ] && [ -x "$ROOT/node_modules/.bin/tslab" ]; then
    tslab="$ROOT/node_modules/.bin/tslab"
  fi
  if [ -z "$tslab" ]; then
    # Not (yet) a devDependency: keep a private copy inside the venv.
    tslab="$VENV/tslab/node_modules/.bin/tslab"
    if [ ! -x "$tslab" ] || ! grep -q "\"version\": \"$TSLAB_VERSION\"" "$VENV/tslab/node_modules/tslab/package.json" 2>/dev/null; then
      command -v npm >/dev/null 2>&1 || die "npm is needed to install tslab@$TSLAB_VERSION (or pass --no-notebooks)"
      say "npm install tslab@$TSLAB_VERSION into ${VENV#$ROOT/}/tslab"
      mkdir -p "$VENV/tslab"
      npm install --prefix "$VENV/tslab" --no-save --no-audit --no-fund --loglevel=error \
        "tslab@$TSLAB_VERSION" >/dev/null
    fi
  fi
  tslab="$(cd "$(dirname "$tslab")" && pwd)/$(basename "$tslab")"
  [ -x "$tslab" ] || die "tslab executable not found at $tslab"
  kernel_json="$VENV/share/jupyter/kernels/tslab/kernel.json"
  if [ -f "$kernel_json" ] && "$VPY" -c '
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["argv"][0] == sys.argv[2] else 1)' "$kernel_json" "$tslab"; then
    TSLAB_STATUS="tslab kernel already registered ($tslab)"
  else
    say "registering the tslab kernel in $VENV/share/jupyter/kernels"
    # --prefix puts the kernelspec inside the venv (never ~/.local): the venv's
    # jupyter finds kernels under sys.prefix/share/jupyter.
    "$tslab" install --python="$VPY" --binary="$tslab" --prefix="$VENV" >/dev/null
    TSLAB_STATUS="tslab kernel registered ($tslab)"
  fi
  "$VENV/bin/jupyter" kernelspec list 2>/dev/null | grep -q '^ *tslab ' ||
    die "the venv's jupyter does not list the tslab kernel"
fi

# --- summary -----------------------------------------------------------------------
say "done"
echo "  venv:            $VENV (Python $py_version)"
echo "  pyarrow:         $PA_VERSION, numpy $NP_VERSION"
echo "  reference store: $PA_DIR/plasma-store-server"
echo "  upstream tests:  $PA_DIR/tests/test_plasma.py"
echo "  notebooks:       $TSLAB_STATUS"
