"""Speed of the plasmapool Python client (issue 11, item 5), all figures from one run:

1. 1 kB create+write+seal+release and get+release: plasmapool's client vs pyarrow 11's
   client (the .venv), alternating rounds against the same store, on `plasmapool store`
   and on the reference plasma-store-server;
2. get+release of 1 MB vs 100 MB objects (should be flat in size: nothing is copied);
3. put_table of a 100 MB table vs numpy copies of the same bytes.

Run: bash bench/py-modern/run.sh [--quick]   (uses .venv-modern and .venv)
The same file is the worker of both clients: `bench_client.py worker MODULE SOCKET N`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PAYLOAD = bytes(range(256)) * 4  # 1 kB


def worker(module: str, sock: str, n: int) -> dict:
    """Time n 1 kB create+write+seal(+release) and n get+release with one client module."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    plasma = __import__(module, fromlist=["connect"])
    client = plasma.connect(sock)
    ids = [plasma.ObjectID(os.urandom(20)) for _ in range(n)]
    warm = [plasma.ObjectID(os.urandom(20)) for _ in range(200)]
    for oid in warm:  # first-touch, mappings, code paths
        b = client.create(oid, len(PAYLOAD))
        memoryview(b).cast("B")[:] = PAYLOAD
        client.seal(oid)
        del b
        [b] = client.get_buffers([oid])
        del b
    c0, t0 = time.process_time(), time.perf_counter()
    for oid in ids:
        b = client.create(oid, len(PAYLOAD))
        memoryview(b).cast("B")[:] = PAYLOAD
        client.seal(oid)
        del b
    c1, t1 = time.process_time(), time.perf_counter()
    for oid in ids:
        [b] = client.get_buffers([oid])
        del b
    c2, t2 = time.process_time(), time.perf_counter()
    client.delete(ids + warm)
    client.disconnect()
    # Wall time per operation, and the client process's own CPU time per operation (user +
    # system: robust to a loaded machine, and what the client, not the store, costs).
    return {"create_seal_us": (t1 - t0) / n * 1e6, "get_release_us": (t2 - t1) / n * 1e6,
            "create_seal_client_cpu_us": (c1 - c0) / n * 1e6, "get_release_client_cpu_us": (c2 - c1) / n * 1e6}


def run_worker(python: str, module: str, sock: str, n: int) -> dict:
    out = subprocess.run([python, __file__, "worker", module, sock, str(n)], capture_output=True, text=True,
                         check=False, env=dict(os.environ, PYTHONPATH=str(REPO / "python")))
    if out.returncode != 0:
        raise RuntimeError(f"{module} worker failed:\n{out.stderr}")
    return json.loads(out.stdout)


def small_objects(kind: str, rounds: int, n: int) -> dict:
    sys.path.insert(0, str(REPO / "python" / "tests"))
    from stores import OLD_VENV_PYTHON, start_store
    store = start_store(kind, 1 << 30)
    try:
        results = {"plasmapool": [], "pyarrow11": []}
        for _ in range(rounds):  # alternate, so that machine noise hits both alike
            results["plasmapool"].append(run_worker(sys.executable, "plasmapool", store.socket, n))
            results["pyarrow11"].append(run_worker(str(OLD_VENV_PYTHON), "pyarrow.plasma", store.socket, n))
    finally:
        store.stop()
    summary = {}
    for client, runs in results.items():
        summary[client] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    summary["ratio"] = {key: summary["plasmapool"][key] / summary["pyarrow11"][key] for key in summary["plasmapool"]}
    return summary


def large_objects(quick: bool) -> dict:
    import numpy as np
    import pyarrow as pa

    import plasmapool as plasma
    sys.path.insert(0, str(REPO / "python" / "tests"))
    from stores import start_store
    store = start_store("plasmapool", 1 << 30)
    try:
        client = plasma.connect(store.socket)
        figures = {}
        for label, size in (("1MB", 1 << 20), ("100MB", 100 << 20)):
            oid = plasma.ObjectID.from_random()
            with client.create(oid, size) as b:
                np.frombuffer(b, dtype=np.uint8)[:] = 1
            client.seal(oid)
            other = plasma.connect(store.socket)  # a reader that holds nothing yet
            samples = []
            for _ in range(20 if quick else 100):
                t0 = time.perf_counter()
                [b] = other.get_buffers([oid])
                b.release()
                other.contains(oid)  # make sure the release went out before the next get
                samples.append(time.perf_counter() - t0)
            other.disconnect()
            figures[f"get_release_{label}_us"] = statistics.median(samples) * 1e6

        n = (100 << 20) // 8
        table = pa.table({"x": np.arange(n, dtype=np.int64)})
        source = table.column("x").chunks[0].to_numpy()
        target = np.empty_like(source)
        np.copyto(target, source)  # warm the target
        put, copy_warm, copy_alloc = [], [], []
        for _ in range(3 if quick else 7):
            t0 = time.perf_counter()
            oid = client.put_table(table)
            t1 = time.perf_counter()
            np.copyto(target, source)
            t2 = time.perf_counter()
            fresh = source.copy()
            t3 = time.perf_counter()
            del fresh
            client.delete([oid])
            put.append(t1 - t0)
            copy_warm.append(t2 - t1)
            copy_alloc.append(t3 - t2)
        figures["put_table_100MB_ms"] = statistics.median(put) * 1e3
        figures["numpy_copyto_warm_100MB_ms"] = statistics.median(copy_warm) * 1e3
        figures["numpy_copy_alloc_100MB_ms"] = statistics.median(copy_alloc) * 1e3
        figures["put_table_vs_copyto_warm"] = figures["numpy_copyto_warm_100MB_ms"] / figures["put_table_100MB_ms"]
        figures["put_table_vs_copy_alloc"] = figures["numpy_copy_alloc_100MB_ms"] / figures["put_table_100MB_ms"]
        client.disconnect()
    finally:
        store.stop()
    return figures


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        print(json.dumps(worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
        return
    quick = "--quick" in sys.argv
    rounds, n = (3, 2000) if quick else (5, 10000)
    report = {"python": sys.version.split()[0]}
    import numpy
    import pyarrow
    report["pyarrow"], report["numpy"] = pyarrow.__version__, numpy.__version__
    for kind in ("plasmapool", "reference"):
        report[f"small_objects_{kind}_store"] = small_objects(kind, rounds, n)
    report["large_objects_plasmapool_store"] = large_objects(quick)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
