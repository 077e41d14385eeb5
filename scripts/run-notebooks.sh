#!/usr/bin/env bash
# Execute every notebook under notebooks/ headless with the tslab TypeScript kernel, and fail if
# any cell fails. The committed notebooks are not modified: executed copies go to a temporary
# directory (kept with --keep, printed at the end). Each notebook runs in its own process group,
# so stores and workers it started are stopped even when a cell fails.
#
# Usage: scripts/run-notebooks.sh [--keep] [notebook.ipynb ...]
# Environment:
#   JUPYTER           jupyter executable (default <repo>/.venv/bin/jupyter, from scripts/setup-python.sh)
#   NOTEBOOK_TIMEOUT  seconds per cell (default 600)
#   SKIP_BUILD=1      do not compile the TypeScript first (the notebooks import ../dist)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/notebook-common.sh
source "$ROOT/scripts/notebook-common.sh"

keep=0
notebooks=()
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) notebooks+=("$arg") ;;
  esac
done
[ ${#notebooks[@]} -gt 0 ] || mapfile -t notebooks < <(find_notebooks)
[ ${#notebooks[@]} -gt 0 ] || { echo "run-notebooks: no notebooks under notebooks/"; exit 0; }

prepare_notebook_env
out="$(mktemp -d "${TMPDIR:-/tmp}/plasmapool-notebooks-XXXXXX")"
[ "$keep" = 1 ] || trap 'rm -rf "$out"' EXIT

failed=0
for nb in "${notebooks[@]}"; do
  rel="${nb#"$ROOT"/}"
  dest="$out/$(dirname "$rel")"
  mkdir -p "$dest"
  echo "run-notebooks: executing $rel"
  start=$(date +%s)
  # Executed in place (so that ../dist resolves from the notebook's folder), written elsewhere.
  if run_in_own_group "$JUPYTER" nbconvert --to notebook --execute \
      --ExecutePreprocessor.timeout="${NOTEBOOK_TIMEOUT:-600}" \
      --output-dir "$dest" "$nb"; then
    echo "run-notebooks: ok   $rel ($(( $(date +%s) - start )) s)"
  else
    echo "run-notebooks: FAIL $rel" >&2
    failed=1
  fi
done
[ "$keep" = 1 ] && echo "run-notebooks: executed copies in $out"
exit "$failed"
