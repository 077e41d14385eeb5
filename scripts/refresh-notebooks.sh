#!/usr/bin/env bash
# Re-execute notebooks in place so that their committed outputs come from a full, fresh run.
# Stops at the first notebook with a failing cell (that notebook is left unchanged).
#
# Usage: scripts/refresh-notebooks.sh [notebook.ipynb ...]   (default: every notebook under notebooks/)
# Environment: as scripts/run-notebooks.sh (JUPYTER, NOTEBOOK_TIMEOUT, SKIP_BUILD).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/notebook-common.sh
source "$ROOT/scripts/notebook-common.sh"

notebooks=("$@")
case "${1:-}" in -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ ${#notebooks[@]} -gt 0 ] || mapfile -t notebooks < <(find_notebooks)
prepare_notebook_env
tmp="$(mktemp -d "${TMPDIR:-/tmp}/plasmapool-refresh-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for nb in "${notebooks[@]}"; do
  echo "refresh-notebooks: executing $nb"
  # Execute into a temporary file first: a failing run must not clobber the committed notebook.
  run_in_own_group "$JUPYTER" nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout="${NOTEBOOK_TIMEOUT:-600}" \
    --output-dir "$tmp" "$nb"
  cp "$tmp/$(basename "$nb")" "$nb"
  echo "refresh-notebooks: updated $nb"
done
