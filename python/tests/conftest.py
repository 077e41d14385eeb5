"""Fixtures of the plasmapool client tests.

`store` runs every test that uses it twice: against `plasmapool store` and against
the reference `plasma-store-server` of pyarrow 11 (PLASMAPOOL_TEST_STORES=plasmapool
or =reference narrows that). A SIGALRM watchdog turns a hung test into a failure:
the client's blocking reads are plain Python socket calls, so the alarm interrupts
them.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plasmapool  # noqa: E402
from stores import start_store  # noqa: E402

STORES = [s for s in os.environ.get("PLASMAPOOL_TEST_STORES", "plasmapool,reference").split(",") if s]
TEST_TIMEOUT_S = int(os.environ.get("PLASMAPOOL_TEST_TIMEOUT", "120"))


@pytest.fixture(autouse=True)
def watchdog():
    def bite(signum, frame):
        raise TimeoutError(f"test still running after {TEST_TIMEOUT_S} s (watchdog)")

    previous = signal.signal(signal.SIGALRM, bite)
    signal.alarm(TEST_TIMEOUT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


class StoreHandle:
    """A running store plus the clients a test opened on it (disconnected at teardown)."""

    def __init__(self, kind: str, memory: int):
        self.process = start_store(kind, memory)
        self.kind = kind
        self.socket = self.process.socket
        self.capacity = memory
        self._clients = []

    def client(self) -> plasmapool.PlasmaClient:
        c = plasmapool.connect(self.socket, num_retries=20)
        self._clients.append(c)
        return c

    def close(self) -> tuple[bool, int | None]:
        for c in self._clients:
            try:
                c.disconnect()
            except Exception:
                pass
        was_alive = self.process.alive()
        code = self.process.stop()
        return was_alive, code


@pytest.fixture
def store_factory(request):
    """Start stores of the parametrized kind (or any kind) with a chosen capacity."""
    started = []

    def make(memory: int = 100_000_000, kind: str | None = None) -> StoreHandle:
        handle = StoreHandle(kind or "plasmapool", memory)
        started.append(handle)
        return handle

    yield make
    failures = []
    for handle in started:
        log = handle.process.log()
        was_alive, code = handle.close()
        if not was_alive and not getattr(handle, "expect_death", False):
            failures.append(f"the {handle.kind} store died during the test:\n{log}")
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture(params=STORES)
def kind(request) -> str:
    """Each store kind in turn: "plasmapool" and "reference"."""
    return request.param


@pytest.fixture
def store(kind, store_factory) -> StoreHandle:
    """A store of each kind with 10^8 bytes, as pyarrow's test_plasma.py uses."""
    return store_factory(100_000_000, kind)


@pytest.fixture
def client(store):
    return store.client()


@pytest.fixture
def client2(store):
    return store.client()
