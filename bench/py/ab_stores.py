#!/usr/bin/env python3
"""Before/after of the store itself: the reference store and one or more plasmapool builds, in one run.

For small changes to the store (a system call less per wake-up, a request served natively), the
figures of two separate small_ops.py runs differ by more than the change: on this VM the cost of a
wake-up across CPUs moves with the host. Here every store runs side by side, pinned to CPU 0, and
the rounds alternate between them (in reverse order every other round), so that each round is a
paired comparison. Per round and store:

  cpu           store CPU per request (all threads, /proc/PID/task/*/schedstat: nanoseconds, not
                clock ticks) over small_ops.one_round: 1 kB create+write+seal, get+release
  cws, gr       median µs of create+write+seal and of get+release in that round
  containsMiss  store CPU per contains() of an id the store does not hold (a polling client)
  getMiss       store CPU per get_buffers([id], timeout_ms=0) of such an id (polling by get)

Prints the medians (with the range over rounds) and, per build, the per-round ratios of its CPU to
the reference's and their median.

  .venv/bin/python bench/py/ab_stores.py --pin cross --rounds 20 before=/work/A after=.

Each NAME=DIR is a built checkout (bin, dist and build/Release, as small_ops.py --plasmapool-root).
"""
import argparse
import os
import shutil
import statistics
import tempfile

import numpy as np
import pyarrow.plasma as plasma

import small_ops


def cpu_ns(pid):
    """CPU time of every thread of pid, in nanoseconds."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that exited meanwhile
    return total


def miss_cpu(store, count, rng, ask):
    """Store CPU µs per ask(client, id) of an id that is not there, on a fresh connection."""
    client = plasma.connect(store.socket)
    c0 = cpu_ns(store.pid)
    small_ops.ask_missing(client, count, rng, ask)
    used = cpu_ns(store.pid) - c0
    client.disconnect()
    return used / count / 1e3


MISSES = {
    "containsMiss": lambda client, oid: client.contains(oid),
    "getMiss": lambda client, oid: client.get_buffers([oid], timeout_ms=0),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("builds", nargs="+", metavar="NAME=DIR", help="plasmapool builds to compare")
    parser.add_argument("--pin", choices=["same", "cross"], default="cross",
                        help="this client on the stores' CPU 0 (same) or on CPU 1 (cross)")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--count", type=int, default=3000, help="objects (and contains) per round")
    args = parser.parse_args()

    os.sched_setaffinity(0, {0 if args.pin == "same" else 1})
    roots = {"reference": None}
    for build in args.builds:
        name, root = build.split("=", 1)
        roots[name] = os.path.abspath(root)
    tmp = tempfile.mkdtemp(prefix="plasmapool-ab-")
    rng = np.random.default_rng(1)
    source = np.full(1000, 7, dtype=np.uint8)
    stores = {}
    try:
        for name, root in roots.items():
            kind = "reference" if root is None else "plasmapool"
            stores[name] = small_ops.Store(kind, tmp, 400_000_000, root=root or small_ops.ROOT, cpu=0, name=name)
        for store in stores.values():  # unrecorded warm-up (JIT, page faults of the region)
            small_ops.one_round(store, 1000, 1000, rng, source)
        figures = {name: {"cpu": [], "cws": [], "gr": [], **{miss: [] for miss in MISSES}} for name in stores}
        for r in range(args.rounds):
            order = list(stores.items())
            for name, store in (order if r % 2 == 0 else reversed(order)):
                c0 = cpu_ns(store.pid)
                cws, gr, requests = small_ops.one_round(store, args.count, 1000, rng, source)
                figures[name]["cpu"].append((cpu_ns(store.pid) - c0) / requests / 1e3)
                figures[name]["cws"].append(statistics.median(cws))
                figures[name]["gr"].append(statistics.median(gr))
                for miss, ask in MISSES.items():
                    figures[name][miss].append(miss_cpu(store, args.count, rng, ask))
    finally:
        for store in stores.values():
            store.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, series in figures.items():
        print(f"{name:12}", "  ".join(f"{key} {statistics.median(v):6.2f} [{min(v):.1f}-{max(v):.1f}]" for key, v in series.items()))
    reference = figures["reference"]["cpu"]
    for name, series in figures.items():
        if name == "reference":
            continue
        ratios = [a / b for a, b in zip(series["cpu"], reference)]
        print(f"{name} / reference, store CPU per round:", " ".join(f"{x:.2f}" for x in ratios),
              f" median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
