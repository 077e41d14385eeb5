"""A store that dies or misbehaves gives a clear exception, never a hang."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

import plasmapool as plasma


def test_store_dying_during_a_blocking_get(store_factory, kind):
    store = store_factory(10_000_000, kind)
    store.expect_death = True
    client = store.client()
    killer = threading.Timer(0.5, store.process.kill)
    killer.start()
    started = time.monotonic()
    with pytest.raises(plasma.PlasmaStoreDisconnected, match="closed the connection while this client was waiting for the reply to a GetRequest"):
        client.get_buffers([plasma.ObjectID.from_random()])  # waits forever on a live store
    killer.join()
    assert time.monotonic() - started < 10
    # Later calls say the same, at once.
    with pytest.raises(plasma.PlasmaStoreDisconnected):
        client.put(1)
    with pytest.raises(plasma.PlasmaStoreDisconnected):
        client.list()


def test_store_dying_between_requests_keeps_buffers_readable(store_factory, kind):
    store = store_factory(10_000_000, kind)
    store.expect_death = True
    client = store.client()
    object_id = client.put_raw_buffer(b"still mapped")
    [data] = client.get_buffers([object_id])
    store.process.kill()
    assert bytes(data) == b"still mapped"
    with pytest.raises(plasma.PlasmaStoreDisconnected):
        client.contains(plasma.ObjectID.from_random())
    del data  # the release of a dead connection is dropped quietly


def _fake_store(path: str, answer):
    """A one-connection server that reads a frame and answers with `answer(sock)`."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            header = conn.recv(24, socket.MSG_WAITALL)
            _, _, length = struct.unpack("<qqq", header)
            conn.recv(length, socket.MSG_WAITALL)
            answer(conn)
            time.sleep(0.5)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_malformed_reply_is_a_clear_error(tmp_path):
    path = str(tmp_path / "fake.sock")
    thread = _fake_store(path, lambda conn: conn.sendall(struct.pack("<qqq", 7, 20, 8) + bytes(8)))
    with pytest.raises(plasma.PlasmaError, match="malformed frame"):
        plasma.connect(path, num_retries=5)
    thread.join()


def test_a_reply_of_the_wrong_type_is_a_clear_error(tmp_path):
    path = str(tmp_path / "fake.sock")
    thread = _fake_store(path, lambda conn: conn.sendall(struct.pack("<qqq", 0, 16, 0)))
    with pytest.raises(plasma.PlasmaError, match="message type 16, expected 20"):
        plasma.connect(path, num_retries=5)
    thread.join()


def test_a_store_that_closes_mid_reply(tmp_path):
    path = str(tmp_path / "fake.sock")
    thread = _fake_store(path, lambda conn: conn.sendall(struct.pack("<qqq", 0, 20, 100) + bytes(10)))
    with pytest.raises(plasma.PlasmaStoreDisconnected, match="ConnectRequest"):
        plasma.connect(path, num_retries=5)
    thread.join()
