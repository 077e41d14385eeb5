"""A remote get through another node's store is zero-copy: the buffer this process
reads from node-1 lies in a mapping of node-0's region, where the object was written."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import plasmapool as plasma
from maps import mapping_of, mappings
from stores import CLI, region_files, wait_for_socket

PRODUCER = """
import sys, numpy as np, plasmapool as plasma
from maps import mapping_of
client = plasma.connect(sys.argv[1])
oid = plasma.ObjectID.from_random()
size = int(sys.argv[2])
with client.create(oid, size) as buf:
    np.frombuffer(buf, dtype=np.uint8)[:] = np.arange(size, dtype=np.int64) % 251
    address = np.frombuffer(buf, dtype=np.uint8).ctypes.data
    start, end, path = mapping_of(address, size)
client.seal(oid)
table_id = client.put_table(__import__("pyarrow").table({"x": np.arange(100_000, dtype=np.int64)}))
print(oid.hex(), table_id.hex(), path, flush=True)
sys.stdin.read()  # keep the objects' creator alive until the test ends
"""


class Cluster:
    def __init__(self, nodes: int):
        self.dir = Path(tempfile.mkdtemp(prefix="pppy-cluster-", dir="/tmp"))
        self.log = open(self.dir / "cluster.log", "wb")
        self.proc = subprocess.Popen(["node", str(CLI), "cluster", "up", "--nodes", str(nodes), "--memory", "64MiB",
                                      "--dir", str(self.dir)], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.sockets = [str(self.dir / f"node-{i}.sock") for i in range(nodes)]
        for sock in self.sockets:
            wait_for_socket(sock, self.proc, 30, "plasmapool cluster up", self.text)
        self._wait_peers(nodes)

    def text(self) -> str:
        return (self.dir / "cluster.log").read_text(errors="replace")

    def _wait_peers(self, nodes: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = subprocess.run(["node", str(CLI), "cluster", "status", "--dir", str(self.dir)],
                                    capture_output=True, text=True)
            lines = [line for line in status.stdout.splitlines() if line.startswith("node-")]
            if len(lines) == nodes and all(line.count(":shared") == nodes - 1 for line in lines):
                return
            time.sleep(0.3)
        raise RuntimeError(f"the cluster's peers did not connect over the shared transport:\n{status.stdout}")

    def close(self) -> None:
        children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout.split()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        for pid in children:
            for leftover in region_files(int(pid)):
                os.unlink(leftover)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster():
    c = Cluster(2)
    yield c
    c.close()


def test_remote_get_maps_the_owners_region(cluster):
    size = 3 * 1024 * 1024 + 17
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, cluster.sockets[0], str(size)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = producer.stdout.readline().split(maxsplit=2)
        if len(line) != 3:
            producer.kill()
            pytest.fail(f"the producer failed: {line}\n{producer.stderr.read()}")
        oid, table_id, owner_region = plasma.ObjectID.from_hex(line[0]), plasma.ObjectID.from_hex(line[1]), line[2]
        assert owner_region.startswith("/dev/shm/")
        owner_file = owner_region.strip().split(" (deleted)")[0]
        assert not mappings(lambda p: p.startswith(owner_file))  # not mapped here before the get

        client = plasma.connect(cluster.sockets[1])
        [data] = client.get_buffers([oid], timeout_ms=10_000)
        assert data is not None and len(data) == size
        array = np.frombuffer(data, dtype=np.uint8)
        np.testing.assert_array_equal(array[:1000], np.arange(1000) % 251)
        start, end, path = mapping_of(array.ctypes.data, size)
        assert path.startswith(owner_file), f"the buffer lies in {path}, not in node-0's region {owner_file}"
        # node-1 holds no copy of it.
        assert oid not in client.list()

        # A table through node-1 is a view of node-0's region as well.
        table = client.get_table(table_id, timeout_ms=10_000)
        assert table.column("x").to_pylist()[-1] == 99_999
        for chunk in table.column("x").chunks:
            _, _, where = mapping_of(chunk.buffers()[1].address, chunk.buffers()[1].size)
            assert where.startswith(owner_file)
        client.disconnect()
    finally:
        if producer.poll() is None:
            producer.stdin.close()
            producer.wait(timeout=10)
