# Shared by run-notebooks.sh and refresh-notebooks.sh (sourced, not executed).

find_notebooks() {
  find "$ROOT/notebooks" -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort
}

# Check Jupyter and the tslab kernel, and compile the TypeScript the notebooks import.
prepare_notebook_env() {
  JUPYTER="${JUPYTER:-$ROOT/.venv/bin/jupyter}"
  if [ ! -x "$JUPYTER" ]; then
    echo "notebooks: $JUPYTER not found: run scripts/setup-python.sh (installs Jupyter and the tslab kernel)" >&2
    exit 1
  fi
  if ! "$JUPYTER" kernelspec list 2>/dev/null | grep -q '^ *tslab '; then
    echo "notebooks: the tslab kernel is not registered with $JUPYTER: run scripts/setup-python.sh" >&2
    exit 1
  fi
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    # The project's TypeScript (node_modules/.bin/tsc is tslab's older one).
    (cd "$ROOT" && node node_modules/typescript/bin/tsc -p tsconfig.build.json)
  fi
  if ! ls "$ROOT"/build/Release/*.node >/dev/null 2>&1; then
    echo "notebooks: the native addon is not built: run npm run build" >&2
    exit 1
  fi
}

# Run a command in a new process group and, when it ends (however it ends), stop whatever it left
# running in that group: a failing cell must not leave stores or workers behind.
run_in_own_group() {
  local pid status=0
  setsid "$@" &
  pid=$!
  wait "$pid" || status=$?
  if kill -0 -- "-$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  return "$status"
}
