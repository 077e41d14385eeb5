#!/usr/bin/env bash
# Speed of the plasmapool Python client vs pyarrow 11's client and numpy copies
# (bench/py-modern/bench_client.py). Usage: bash bench/py-modern/run.sh [--quick]
# Needs a built tree (npm run build); creates .venv and .venv-modern on first use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/scripts/setup-python.sh" --no-notebooks >/dev/null
"$ROOT/scripts/setup-python-modern.sh" >/dev/null
exec "$ROOT/.venv-modern/bin/python" "$ROOT/bench/py-modern/bench_client.py" "$@"
