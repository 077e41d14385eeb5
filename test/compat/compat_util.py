"""Small helpers shared by the compat tests: ids, payloads, other client processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pyarrow.plasma as plasma


def new_id() -> plasma.ObjectID:
    return plasma.ObjectID(os.urandom(20))


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-constant bytes (so a wrong offset shows)."""
    if size == 0:
        return b""
    block = bytes((seed * 131 + i * 7 + (i >> 8)) & 0xFF for i in range(min(size, 4096)))
    return (block * (size // len(block) + 1))[:size]


def put_bytes(client, data: bytes, metadata: bytes = b"", oid=None):
    """create + write + seal through the real client; the buffer is released."""
    oid = oid or new_id()
    buf = client.create(oid, len(data), metadata)
    if data:
        memoryview(buf).cast("B")[:] = data
    client.seal(oid)
    del buf
    return oid


def read_bytes(client, oid, timeout_ms: int = 0) -> bytes | None:
    [buf] = client.get_buffers([oid], timeout_ms=timeout_ms)
    if buf is None:
        return None
    data = bytes(memoryview(buf))
    del buf
    return data


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


CLIENT_PRELUDE = """
import os, sys, time, warnings
warnings.filterwarnings("ignore")
import pyarrow.plasma as plasma
client = plasma.connect(sys.argv[1], num_retries=20)
def oid(hexstr):
    return plasma.ObjectID(bytes.fromhex(hexstr))
"""


def spawn_client(socket_path: str, body: str, *args: str) -> subprocess.Popen:
    """Another process with its own pyarrow client; `client` is connected.
    It prints 'ready' once connected (before running body's blocking part if
    body prints it itself, see callers)."""
    code = CLIENT_PRELUDE + textwrap.dedent(body)
    # Unbuffered bytes so that select() and readline() agree (see wait_for_line).
    return subprocess.Popen([sys.executable, "-u", "-c", code, socket_path, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def wait_for_line(proc: subprocess.Popen, expected: str, timeout: float = 15.0) -> None:
    """Read the child's stdout until a line equals `expected`."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            raise AssertionError(f"child {proc.pid} did not print {expected!r} within {timeout}s")
        line = proc.stdout.readline()
        if not line:
            proc.wait()
            raise AssertionError(f"child {proc.pid} exited ({proc.returncode}) before printing "
                                 f"{expected!r}: {proc.stderr.read().decode(errors='replace')}")
        if line.decode().strip() == expected:
            return


def finish(proc: subprocess.Popen, timeout: float = 15.0) -> str:
    """Wait for a child client and return its stdout; fail with its stderr."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"child client {proc.pid} still running after {timeout}s:\n"
                             f"{err.decode(errors='replace')}")
    err = err.decode(errors="replace")
    assert proc.returncode == 0, f"child client exited {proc.returncode}:\n{err}"
    return out.decode()
