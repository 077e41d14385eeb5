"""Subscribe and the notification channel (docs §5)."""

import socket
import struct
import pyarrow.plasma as plasma

from compat_util import new_id, payload, put_bytes
from plasma_wire import notification_infos



def subscribe_now(client):
    """Subscribe has no reply: a round trip on the same connection makes sure the store has
    registered the subscription before another connection seals anything."""
    client.subscribe()
    client.contains(plasma.ObjectID(b"\0" * 20))


def _raw_notification_reader(client):
    """pyarrow's notification socket, read frame by frame (test_subscribe_socket style).
    Returns (sock, read_frame); the caller must sock.detach() so pyarrow keeps its fd."""
    sock = client.get_notification_socket()
    sock.settimeout(10)

    def exact(n):
        out = bytearray()
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            assert chunk, "notification socket closed"
            out += chunk
        return bytes(out)

    def read_frame():
        (length,) = struct.unpack("=q", exact(8))
        return notification_infos(exact(length))

    return sock, read_frame


def test_10000_notifications_queued_before_reading(client):
    client.subscribe()
    ids = []
    for i in range(10_000):
        oid = new_id()
        client.create_and_seal(oid, b"d" * (i % 50), b"m" * (i % 3))
        ids.append(oid)
    for i, oid in enumerate(ids):
        got_id, data_size, metadata_size = client.get_next_notification()
        assert (got_id, data_size, metadata_size) == (oid, i % 50, i % 3), f"notification {i}"


def test_new_subscriber_gets_existing_sealed_objects(client, client2):
    sizes = {put_bytes(client, payload(10 * i), b"m"): 10 * i for i in range(1, 4)}
    unsealed = new_id()
    buf = client.create(unsealed, 5)
    subscribe_now(client2)
    got = {client2.get_next_notification() for _ in range(3)}
    assert got == {(oid, size, 1) for oid, size in sizes.items()}
    client.seal(unsealed)
    assert client2.get_next_notification() == (unsealed, 5, 0)
    del buf


def test_one_frame_per_seal_with_digest(client, client2):
    subscribe_now(client)
    sock, read_frame = _raw_notification_reader(client)
    try:
        a = put_bytes(client2, payload(1234, 1), b"meta")
        b = new_id()
        client2.create_and_seal(b, payload(99, 2))
        for oid, size, msize in ((a, 1234, 4), (b, 99, 0)):
            [info] = read_frame()
            assert info.object_id == oid.binary()
            assert (info.data_size, info.metadata_size, info.is_deletion) == (size, msize, False)
            assert info.digest == client2.hash(oid), "the digest the client computed at seal"
    finally:
        sock.detach()


def test_deletion_notifications(client, client2):
    client.subscribe()
    a = put_bytes(client2, payload(100))
    b = put_bytes(client2, payload(200))
    c = put_bytes(client2, payload(300))
    assert [client.get_next_notification() for _ in range(3)] == [(a, 100, 0), (b, 200, 0),
                                                                   (c, 300, 0)]
    client2.delete([b])
    assert client.get_next_notification() == (b, -1, -1)
    assert client2.evict(1) == 100
    assert client.get_next_notification() == (a, -1, -1)
    # Deferred delete fires on the last release.
    [held] = client2.get_buffers([c], timeout_ms=0)
    client.delete([c])
    del held
    assert client.get_next_notification() == (c, -1, -1)


def test_abort_by_disconnect_sends_no_notification(store, client):
    client.subscribe()
    creator = store.client()
    buf = creator.create(new_id(), 10)
    creator.disconnect()
    del buf
    marker = put_bytes(store.client(), b"after")
    assert client.get_next_notification() == (marker, 5, 0)


def test_every_subscriber_gets_every_notification(store):
    subscribers = [store.client() for _ in range(3)]
    for s in subscribers:
        subscribe_now(s)
    oid = put_bytes(subscribers[0], payload(42))
    for s in subscribers:
        assert s.get_next_notification() == (oid, 42, 0)


def test_subscriber_that_disconnects_with_a_full_queue_does_not_hurt(store, client):
    quitter = store.client()
    quitter.subscribe()
    sock = quitter.get_notification_socket()
    for _ in range(3000):
        client.create_and_seal(new_id(), b"x" * 10)
    quitter.disconnect()
    sock.close()
    client.subscribe()
    oid = put_bytes(client, b"still fine")
    seen = set()
    while oid not in seen:
        seen.add(client.get_next_notification()[0])
    assert len(seen) == 3001
    assert store.alive()


def test_notification_socket_reaches_eof_when_the_store_drops_the_client(store):
    c = store.client()
    c.subscribe()
    sock = c.get_notification_socket()
    try:
        c.disconnect()
        sock.settimeout(10)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        raise AssertionError("store kept the notification socket open after the client left")
    finally:
        sock.detach()
