#!/usr/bin/env python3
"""The pyarrow 11 side of the plasmapool benchmarks (driven by bench/run.ts).

Runs the microbenchmark matrix with the real `pyarrow.plasma` client against a store (the
reference plasma-store-server or plasmapool: the driver cannot tell them apart), and measures the
numpy copy bandwidth of the machine. One process serves the whole run: the harness writes one JSON
command per line on stdin and reads one JSON reply per line on stdout ({"ok", "result"|"error"}):

    {"op": "hello"}                                   versions of pyarrow, numpy, Python
    {"op": "memcpy", "bytes": 100000000, "repeats": 10}
    {"op": "workload", "producer": SOCKET, "consumer": SOCKET, "count": 1000, "size": 1000, "repeats": 3, "warmup": 1}
    {"op": "fill", "socket": SOCKET, "count": 100000, "size": 64}   create_and_seal that many objects

Run by hand: echo '{"op": "hello"}' | .venv/bin/python bench/py/plasma_bench.py

Per object and per repeat it times, in microseconds:
  createWriteSeal  create(id, size) + copy random bytes in (numpy) + seal + drop the create buffer
  get              get_buffers([id]) on a second connection (so the store answers, not a cache)
  read             numpy float64 sum over the whole object (touches every byte)
  release          dropping the last reference (PlasmaBuffer.__dealloc__ -> Release)
Progress goes to stderr as `PROGRESS <objects>` lines, one per repeat.
"""
import json
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

import numpy as np  # noqa: E402
import pyarrow  # noqa: E402
import pyarrow.plasma as plasma  # noqa: E402

OPS = ("createWriteSeal", "get", "read", "release")


def progress(objects):
    sys.stderr.write(f"PROGRESS {objects}\n")
    sys.stderr.flush()


def memcpy_bandwidth(nbytes, repeats, rng):
    """Warm numpy copy (np.copyto) of nbytes; seconds per copy of each repeat."""
    src = rng.integers(0, 256, size=nbytes, dtype=np.uint8)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault in both buffers first: we want the warm figure
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        np.copyto(dst, src)
        times.append((time.perf_counter_ns() - t0) / 1e3)
    return {"bytes": nbytes, "samplesUs": times}


def run_workload(producer, consumer, count, size, repeats, source, rng, warmup=0):
    samples = {op: [] for op in OPS}
    source_u8 = np.frombuffer(source, dtype=np.uint8)
    for repeat in range(-warmup, repeats):
        ids = [plasma.ObjectID(rng.bytes(20)) for _ in range(count)]
        cws, get, read, rel = [], [], [], []
        for i, oid in enumerate(ids):
            # A different slice of the random source for each object (same cost, different bytes).
            start = (i * 4096) % max(1, len(source_u8) - size + 1)
            chunk = source_u8[start:start + size]
            t0 = time.perf_counter_ns()
            buf = producer.create(oid, size)
            view = np.frombuffer(buf, dtype=np.uint8)
            view[:] = chunk
            del view
            producer.seal(oid)
            del buf
            cws.append((time.perf_counter_ns() - t0) / 1e3)
        held = []
        for oid in ids:
            t0 = time.perf_counter_ns()
            [buf] = consumer.get_buffers([oid])
            get.append((time.perf_counter_ns() - t0) / 1e3)
            held.append(buf)
        total = 0.0
        for buf in held:
            t0 = time.perf_counter_ns()
            total += float(np.frombuffer(buf, dtype=np.float64).sum())
            read.append((time.perf_counter_ns() - t0) / 1e3)
        for i in range(len(held)):
            t0 = time.perf_counter_ns()
            held[i] = None
            rel.append((time.perf_counter_ns() - t0) / 1e3)
        producer.delete(ids)
        progress(count)
        if repeat < 0:
            continue  # a warm-up repeat: not recorded
        samples["createWriteSeal"].append(cws)
        samples["get"].append(get)
        samples["read"].append(read)
        samples["release"].append(rel)
    return {"count": count, "size": size, "repeats": repeats, "samplesUs": samples}


def handle(command, rng, state):
    if command["op"] == "hello":
        return {"pyarrow": pyarrow.__version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    if command["op"] == "memcpy":
        return memcpy_bandwidth(command["bytes"], command.get("repeats", 10), rng)
    if command["op"] == "workload":
        size = command["size"]
        if state.get("source") is None or len(state["source"]) < size + 4096 * 1024:
            state["source"] = rng.integers(0, 256, size=size + 4096 * 1024, dtype=np.uint8).tobytes()
        producer = plasma.connect(command["producer"])
        consumer = plasma.connect(command.get("consumer", command["producer"]))
        try:
            return run_workload(
                producer, consumer, command["count"], size, command["repeats"], state["source"], rng, command.get("warmup", 0)
            )
        finally:
            consumer.disconnect()
            producer.disconnect()
    if command["op"] == "fill":
        # Many small sealed objects, one create_and_seal request each (the memory-per-object figure).
        client = plasma.connect(command["socket"])
        try:
            data = b"\x01" * command["size"]
            t0 = time.perf_counter()
            for i in range(command["count"]):
                client.create_and_seal(plasma.ObjectID(rng.bytes(20)), data)
                if (i + 1) % 10000 == 0:
                    progress(10000)
            return {"seconds": time.perf_counter() - t0}
        finally:
            client.disconnect()
    raise ValueError(f"unknown command {command['op']!r}")


def main():
    rng = np.random.default_rng(1)
    state = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            reply = {"ok": True, "result": handle(command, rng, state)}
        except Exception as error:  # reported to the harness, which records the failure
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
