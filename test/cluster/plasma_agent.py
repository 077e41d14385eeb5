"""A pyarrow 11 Plasma client driven line by line from the cluster tests.

Usage: python plasma_agent.py SOCKET

Reads one JSON command per line on stdin, answers one JSON line on stdout
({"ok": true, ...} or {"ok": false, "error": "ExceptionName", "message": ...}).
Buffers returned by `get` stay referenced (the store keeps the object pinned for
this client) until `release` names them, or until the process dies.

Object bytes are a deterministic pattern of (id, size), so that any process can
check what it reads without shipping the bytes around.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
import pyarrow.plasma as plasma


def pattern(seed: str, size: int) -> bytes:
    """size bytes derived from seed; every 8-byte word differs with its position (offset errors show)."""
    key = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little")
    words = np.arange((size + 7) // 8, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(key)
    return words.tobytes()[:size]


def oid(hex_id: str) -> plasma.ObjectID:
    return plasma.ObjectID(bytes.fromhex(hex_id))


def digest(buffer) -> str:
    return hashlib.sha256(memoryview(buffer)).hexdigest()


class Agent:
    def __init__(self, socket: str) -> None:
        self.client = plasma.connect(socket)
        self.held: dict[str, object] = {}
        self.creating: dict[str, object] = {}

    def put(self, id: str, size: int, seed: str | None = None) -> dict:
        data = pattern(seed or id, size)
        buffer = self.client.create(oid(id), size)
        memoryview(buffer).cast("B")[:] = data
        del buffer
        self.client.seal(oid(id))
        return {"sha256": hashlib.sha256(data).hexdigest()}

    def create(self, id: str, size: int, seed: str | None = None) -> dict:
        """Create and write, but do not seal (the seal comes as its own command)."""
        data = pattern(seed or id, size)
        buffer = self.client.create(oid(id), size)
        memoryview(buffer).cast("B")[:] = data
        self.creating[id] = buffer
        return {"sha256": hashlib.sha256(data).hexdigest()}

    def seal(self, id: str) -> dict:
        buffer = self.creating.pop(id, None)
        del buffer
        self.client.seal(oid(id))
        return {}

    def get(self, id: str, timeout_ms: int = 0, hold: bool = True) -> dict:
        start = time.monotonic()
        [buffer] = self.client.get_buffers([oid(id)], timeout_ms=timeout_ms)
        elapsed_ms = (time.monotonic() - start) * 1000
        if buffer is None:
            return {"found": False, "elapsed_ms": elapsed_ms}
        result = {"found": True, "elapsed_ms": elapsed_ms, "size": buffer.size, "sha256": digest(buffer), "address": buffer.address}
        if hold:
            self.held[id] = buffer
        return result

    def release(self, id: str) -> dict:
        self.held.pop(id, None)
        return {}

    def hash(self, id: str) -> dict:
        return {"hash": self.client.hash(oid(id)).hex()}

    def list(self) -> dict:
        return {
            "objects": {
                object_id.binary().hex(): {"ref_count": info["ref_count"], "data_size": info["data_size"], "state": info["state"]}
                for object_id, info in self.client.list().items()
            }
        }

    def evict(self, bytes: int) -> dict:
        return {"evicted": self.client.evict(bytes)}


def main() -> None:
    agent = Agent(sys.argv[1])
    print(json.dumps({"ok": True, "ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command.pop("op")
        try:
            result = getattr(agent, op)(**command)
            reply = {"ok": True, **result}
        except Exception as error:  # report, keep serving
            reply = {"ok": False, "error": type(error).__name__, "message": str(error)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
