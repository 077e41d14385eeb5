"""The shared set-up of the robustness tests (test_07, test_08).

One store per test module (the "arena"). While the cases run, a separate
process keeps creating, reading, verifying and deleting objects through
pyarrow, and this process holds a set of objects whose bytes and digests are
checked after every case. A store that receives garbage must answer with an
error or close that one connection; it never exits and never harms another
client (architecture.md invariants, docs §13). Most cases would crash the
reference store (it asserts instead of validating), so they are marked
plasmapool only.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

import storeproc
from compat_util import CLIENT_PRELUDE, payload, put_bytes, read_bytes
from plasma_raw import Closed, RawConnection
from plasma_wire import Msg, View

CAPACITY = 32_000_000
REFERENCE_CRASHES = "the reference store aborts on this input (§13)"
only_plasmapool = pytest.mark.plasmapool_only(REFERENCE_CRASHES)

CHURN = """
import hashlib, random, select, time
reader = plasma.connect(sys.argv[1], num_retries=20)
kept = []          # (oid, buffer held by reader, sha256 of the data)
rounds = evicted = 0

def verify():
    for oid, buf, sha in kept:
        assert hashlib.sha256(bytes(buf)).hexdigest() == sha, "held object changed"

while not select.select([sys.stdin], [], [], 0)[0]:
    size = random.choice([0, 1, 100, 4096, 65536])
    data, meta = os.urandom(size), os.urandom(random.choice([0, 3]))
    oid = plasma.ObjectID(os.urandom(20))
    buf = None
    if rounds % 2:
        # Unpinned as soon as it is sealed: a case that fills the store may
        # evict it before the reader gets it; that is allowed (docs §9).
        client.create_and_seal(oid, data, meta)
    else:
        buf = client.create(oid, size, meta)  # held until the reader has it
        if size:
            memoryview(buf).cast("B")[:] = data
        client.seal(oid)
    [(m, d)] = reader.get_buffers([oid], timeout_ms=0, with_meta=True)
    del buf
    if d is None:
        assert rounds % 2, "a sealed object held by its creator was not available"
        assert not reader.contains(oid), "get found nothing, contains found the object"
        evicted += 1
        rounds += 1
        continue
    if bytes(d) != data or bytes(m) != meta:
        got = bytes(d)
        diff = [k for k in range(min(len(got), len(data))) if got[k] != data[k]]
        raise AssertionError(
            f"read back differs: round {rounds} ({'create_and_seal' if rounds % 2 else 'create+seal'}),"
            f" data {size} B / metadata {len(meta)} B written, read {len(got)} / {len(bytes(m))} B,"
            f" {len(diff)} data bytes differ (first {diff[:3]}, last {diff[-3:]}),"
            f" {got.count(0)} zero bytes read, metadata equal: {bytes(m) == meta},"
            f" store's entry: {client.list().get(oid)}")
    assert reader.hash(oid) == client.hash(oid)
    kept.append((oid, d, hashlib.sha256(data).hexdigest()))
    del m, d
    if len(kept) > 40:
        old, held, _ = kept.pop(0)
        del held
        client.delete([old])
    if rounds % 25 == 0:
        verify()
    rounds += 1
    time.sleep(0.002)  # leave the 2 cores mostly to the store and the test
verify()
print("ok", rounds, evicted)
"""


class Arena:
    """One store, a client holding pinned objects, and a concurrent churn process."""

    store: storeproc.StoreProcess

    def check(self):
        assert self.store.alive(), "the store exited:\n" + self.store.log()
        if self.churn is not None and self.churn.poll() is not None:
            if not getattr(self, "churn_failure", None):
                self.churn_failure = self.churn.stderr.read().decode(errors="replace")
                raise AssertionError("the concurrent pyarrow client failed:\n" + self.churn_failure)
            raise AssertionError("the concurrent pyarrow client failed earlier (see above)")
        for oid, (held, data, meta, digest) in self.objects.items():
            assert bytes(held) == data, "held bytes changed"
            [(m, d)] = self.reader.get_buffers([oid], timeout_ms=1000, with_meta=True)
            assert d is not None, f"object {oid} is gone"
            assert bytes(d) == data and bytes(m) == meta, f"object {oid} changed"
            del m, d
            assert self.reader.hash(oid) == digest
        oid = put_bytes(self.good, b"still serving")
        assert read_bytes(self.reader, oid) == b"still serving"
        self.good.delete([oid])
        with RawConnection(self.store.socket) as conn:
            ids = {i.object_id for i in conn.list()}
            assert all(len(i) == 20 for i in ids), "an object with a malformed id was stored"


@pytest.fixture(scope="module")
def arena():
    a = Arena()
    a.store = storeproc.start_store(CAPACITY)
    try:
        a.good, a.reader = a.store.client(), a.store.client()
        a.objects = {}
        for i, (size, msize) in enumerate([(0, 0), (1, 0), (0, 5), (1000, 10), (100_000, 0),
                                           ((1 << 20) + 5, 7)]):
            data, meta = payload(size, i), payload(msize, i + 50)
            oid = put_bytes(a.good, data, meta)
            [held] = a.good.get_buffers([oid], timeout_ms=0)  # pinned all along
            a.objects[oid] = (held, data, meta, a.good.hash(oid))
        # The churn process reads stdin only to learn when to stop.
        a.churn = subprocess.Popen(
            [sys.executable, "-u", "-c", CLIENT_PRELUDE + textwrap.dedent(CHURN), a.store.socket],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        yield a
    finally:
        if getattr(a, "churn", None) is not None and a.churn.poll() is None:
            a.churn.kill()
            a.churn.wait()
        a.store.stop()


@pytest.fixture(autouse=True)
def checked(arena):
    """Watchdog coverage for the shared store, and the invariant check after each case."""
    storeproc.track(arena.store.proc)
    yield
    arena.check()


def bad(arena, data: bytes, *, shut_wr: bool = False, timeout: float = 5.0):
    """Send raw bytes on a fresh connection; return what the store did."""
    with RawConnection(arena.store.socket) as conn:
        try:
            conn.send_raw(data)
        except Closed:
            return "closed"  # closed before we finished sending: also a rejection
        if shut_wr:
            conn.sock.shutdown(socket.SHUT_WR)
        return conn.outcome(timeout)


def closed_or_error_reply(outcome, reply: Msg, ok=lambda view: True):
    if outcome == "closed":
        return
    assert outcome != "open", f"no reply and the connection stayed open (expected {reply.name})"
    msg_type, body = outcome
    assert msg_type == reply, f"expected {reply.name} or a close, got type {msg_type}"
    assert ok(View(body)), f"unexpected {reply.name} content"


def finish(arena: Arena) -> None:
    """The last test of a module: everything survived, and the store exits 0."""
    arena.check()
    out, err = arena.churn.communicate(timeout=30)  # closes its stdin: the signal to stop
    assert arena.churn.returncode == 0, err.decode(errors="replace")
    assert out.decode().startswith("ok "), out
    assert int(out.split()[1]) > 0, "the concurrent client never completed a round"
    arena.churn = None
    arena.check = lambda: None  # the store is stopped below; nothing left to check after
    was_alive, rc, killed = arena.store.stop()
    assert was_alive and not killed and rc == 0, f"store exit {rc} after SIGTERM (killed={killed})"
