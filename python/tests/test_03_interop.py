"""TypeScript client <-> this client <-> pyarrow 11's client, on one store.

Tables cross both ways between every pair, and the three parties agree on every
object's digest: the one its writer sent with Seal (as the store records it), this
client's hash() and pyarrow 11's hash(), for small and chunked (>= 1 MiB) objects.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from plasmapool import ARROW_STREAM_METADATA, ObjectID
from stores import OLD_VENV_PYTHON, REPO

AGENTS = Path(__file__).resolve().parent / "agents"
ROWS = 50_000


def sample_table(rows: int) -> pa.Table:
    k = np.arange(rows)
    return pa.table({"i": pa.array(k * 3, pa.int32()), "f": pa.array(k / 4.0, pa.float64()),
                     "s": pa.array([f"row-{j % 7}" for j in range(rows)], pa.string())})


def sample_bytes(size: int) -> bytes:
    return ((np.arange(size, dtype=np.int64) * 31 + 7) % 251).astype(np.uint8).tobytes()


def run(argv: list[str]) -> dict:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(argv)} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def pyarrow11(sock: str, *args) -> dict:
    if not OLD_VENV_PYTHON.exists():
        pytest.fail("the pyarrow 11 venv (.venv) is missing: run scripts/setup-python.sh --no-notebooks")
    return run([str(OLD_VENV_PYTHON), str(AGENTS / "pyarrow11_agent.py"), sock, *map(str, args)])


def typescript(sock: str, *args) -> dict:
    if not (REPO / "dist" / "index.js").exists():
        pytest.fail("dist/ is missing: run 'npm run build'")
    return run(["node", str(AGENTS / "ts_agent.mjs"), sock, *map(str, args)])


def columns(table: pa.Table) -> dict:
    return {name: table.column(name).to_pylist() for name in table.column_names}


@pytest.fixture
def shared(store_factory):
    """One plasmapool store that all three clients use."""
    return store_factory(256 * 1024 * 1024, "plasmapool")


def test_tables_cross_between_typescript_python_and_pyarrow11(shared):
    client = shared.client()
    expected = columns(sample_table(ROWS))

    # TypeScript putTable -> this client's get_table (and pyarrow 11 reads it too).
    from_ts = ObjectID.from_random()
    typescript(shared.socket, "put_table", from_ts.hex(), ROWS)
    table = client.get_table(from_ts, timeout_ms=5000)
    assert columns(table) == expected
    assert pyarrow11(shared.socket, "get_table", from_ts.hex()) == expected

    # This client's put_table -> TypeScript getTable and pyarrow 11.
    from_py = client.put_table(sample_table(ROWS))
    assert client.list()[from_py]["metadata_size"] == len(ARROW_STREAM_METADATA)
    assert typescript(shared.socket, "get_table", from_py.hex()) == expected
    assert pyarrow11(shared.socket, "get_table", from_py.hex()) == expected

    # pyarrow 11 (no metadata marker) -> this client and TypeScript.
    from_pa = ObjectID.from_random()
    pyarrow11(shared.socket, "put_table", from_pa.hex(), ROWS)
    assert columns(client.get_table(from_pa, timeout_ms=5000)) == expected
    assert typescript(shared.socket, "get_table", from_pa.hex()) == expected


@pytest.mark.parametrize("size", [0, 1000, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 17, 24 * (1 << 20) + 5])
def test_digests_agree(shared, size):
    client = shared.client()
    ids = {name: ObjectID.from_random() for name in ("ts", "pa11", "ours", "ours_inline")}
    typescript(shared.socket, "put_raw", ids["ts"].hex(), size)
    pyarrow11(shared.socket, "put_raw", ids["pa11"].hex(), size)
    client.put_raw_buffer(sample_bytes(size), object_id=ids["ours"], metadata=b"py")
    client.create_and_seal(ids["ours_inline"], sample_bytes(size), b"py")

    listing = client.list()
    recorded = {name: listing[oid]["digest"].hex() for name, oid in ids.items()}
    ours = {name: client.hash(oid).hex() for name, oid in ids.items()}
    theirs = pyarrow11(shared.socket, "hash", *(oid.hex() for oid in ids.values()))
    theirs = {name: theirs[oid.hex()] for name, oid in ids.items()}
    assert ours == recorded == theirs
    # Same data, different metadata: different digests; same data and metadata: equal.
    assert recorded["ours"] == recorded["ours_inline"]
    assert len({recorded["ts"], recorded["pa11"], recorded["ours"]}) == 3
