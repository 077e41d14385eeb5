"""Every PlasmaClient method, against plasmapool store and the reference store.

Ported from the semantics of pyarrow 11's tests/test_plasma.py (TestPlasmaClient and
the module-level tests), written for plasmapool's API: buffers are memoryviews.
"""

from __future__ import annotations

import gc
import pickle
import random
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import plasmapool as plasma
from plasmapool import ObjectID

PERCENT = 100_000_000 // 100
SMALL_OBJECT_SIZE = 9000


def random_object_id() -> ObjectID:
    return ObjectID(np.random.bytes(20))


def generate_metadata(length: int) -> bytearray:
    metadata = bytearray(length)
    if length > 0:
        metadata[0] = random.randint(0, 255)
        metadata[-1] = random.randint(0, 255)
        for _ in range(100):
            metadata[random.randint(0, length - 1)] = random.randint(0, 255)
    return metadata


def write_to_data_buffer(buff, length: int) -> None:
    array = np.frombuffer(buff, dtype="uint8")
    if length > 0:
        array[0] = random.randint(0, 255)
        array[-1] = random.randint(0, 255)
        for _ in range(100):
            array[random.randint(0, length - 1)] = random.randint(0, 255)


def create_object_with_id(client, object_id, data_size, metadata_size, seal=True):
    metadata = generate_metadata(metadata_size)
    memory_buffer = client.create(object_id, data_size, metadata)
    write_to_data_buffer(memory_buffer, data_size)
    if seal:
        client.seal(object_id)
    return memory_buffer, metadata


def create_object(client, data_size, metadata_size=0, seal=True):
    object_id = random_object_id()
    memory_buffer, metadata = create_object_with_id(client, object_id, data_size, metadata_size, seal=seal)
    return object_id, memory_buffer, metadata


def ref_count(client, object_id, *others) -> int:
    """The object's ref_count as the store sees it once every client's releases arrived.

    A Release has no reply, so each client first makes one round trip: the store
    handles a connection's messages in order."""
    for other in (client, *others):
        other.contains(random_object_id())
    return client.list()[object_id]["ref_count"]


# --- ObjectID and connect -----------------------------------------------------------------


def test_object_id_size_and_equality():
    with pytest.raises(ValueError):
        ObjectID(b"short")
    a, b = ObjectID(20 * b"a"), ObjectID(20 * b"a")
    assert a == b and hash(a) == hash(b) and a != ObjectID(20 * b"b")
    assert a.binary() == 20 * b"a"
    assert a.hex() == (20 * b"a").hex() and ObjectID.from_hex(a.hex()) == a
    assert len({ObjectID.from_random() for _ in range(100)}) == 100
    assert pickle.loads(pickle.dumps(a)) == a
    assert repr(a) == f"ObjectID({a.hex()})"


def test_connection_failure_raises_exception(tmp_path):
    started = time.monotonic()
    with pytest.raises(OSError, match="could not connect"):
        plasma.connect(str(tmp_path / "nothing.sock"), num_retries=1)
    assert time.monotonic() - started < 2


def test_store_capacity(store_factory, kind):
    store = store_factory(10000, kind)
    assert store.client().store_capacity() == 10000


# --- create, seal, get -----------------------------------------------------------------------


def test_create(client):
    length = 50
    object_id = random_object_id()
    memory_buffer = client.create(object_id, length)
    assert not memory_buffer.readonly and len(memory_buffer) == length
    for i in range(length):
        memory_buffer[i] = i % 256
    client.seal(object_id)
    [memory_buffer] = client.get_buffers([object_id])
    assert memory_buffer.readonly
    for i in range(length):
        assert memory_buffer[i] == i % 256


def test_create_with_metadata(client):
    for length in range(0, 1000, 3):
        object_id = random_object_id()
        metadata = generate_metadata(length)
        memory_buffer = client.create(object_id, length, metadata)
        write_to_data_buffer(memory_buffer, length)
        data = bytes(memory_buffer)
        client.seal(object_id)
        [got] = client.get_buffers([object_id])
        assert bytes(got) == data
        [meta] = client.get_metadata([object_id])
        assert bytes(meta) == bytes(metadata)


def test_create_existing(client):
    length = 100
    for _ in range(100):
        object_id = random_object_id()
        client.create(object_id, length, generate_metadata(length))
        with pytest.raises(plasma.PlasmaObjectExists):
            client.create(object_id, length, generate_metadata(length))


def test_create_and_seal(client):
    for i in range(300):
        object_id = random_object_id()
        client.create_and_seal(object_id, i * b"a", i * b"b")
        [data] = client.get_buffers([object_id])
        assert bytes(data) == i * b"a"
        [(meta, data)] = client.get_buffers([object_id], with_meta=True)
        assert meta == i * b"b" and bytes(data) == i * b"a"
    with pytest.raises(plasma.PlasmaObjectExists):
        client.create_and_seal(object_id, b"a", b"b")
    # Objects of 20 % of the store keep fitting: the store evicts older ones.
    for _ in range(20):
        client.create_and_seal(random_object_id(), bytes(20 * PERCENT))


def test_get(client):
    num_object_ids = 60
    object_ids = [random_object_id() for _ in range(num_object_ids)]
    for timeout_ms in (0, 10, 100, 1000):
        assert client.get_buffers(object_ids, timeout_ms=timeout_ms) == [None] * num_object_ids
    data_buffers = []
    for i in range(num_object_ids):
        if i % 2 == 0:
            data_buffer, _ = create_object_with_id(client, object_ids[i], 2000, 2000)
            data_buffers.append(bytes(data_buffer))
    results = client.get_buffers(object_ids, timeout_ms=0)
    for i in range(num_object_ids):
        if i % 2 == 0:
            assert bytes(results[i]) == data_buffers[i // 2]
        else:
            assert results[i] is None
    # An unsealed object of this client: not available until sealed.
    object_id = random_object_id()
    client.create(object_id, 10, b"m")
    assert client.get_buffers([object_id], timeout_ms=0, with_meta=True)[0][1] is None
    assert client.get_buffers([object_id], timeout_ms=1, with_meta=True)[0][1] is None
    with pytest.raises(plasma.PlasmaError, match="not sealed"):
        client.get_buffers([object_id])  # timeout -1 would never end
    client.seal(object_id)
    assert client.get_buffers([object_id], timeout_ms=0, with_meta=True)[0][1] is not None


def test_get_waits_for_a_seal_on_another_client(client, client2):
    object_id = random_object_id()
    buffer = client.create(object_id, 4)
    buffer[:] = b"late"
    import threading
    timer = threading.Timer(0.3, client.seal, args=(object_id,))
    timer.start()
    started = time.monotonic()
    [got] = client2.get_buffers([object_id], timeout_ms=10_000)
    timer.join()
    assert bytes(got) == b"late" and time.monotonic() - started >= 0.25


def test_buffer_lifetime(client, client2):
    pa = pytest.importorskip("pyarrow")
    arr = pa.array([1, 12, 23, 3, 34], pa.int32())
    batch = pa.RecordBatch.from_arrays([arr], ["field1"])
    sink = pa.MockOutputStream()
    with pa.RecordBatchStreamWriter(sink, batch.schema) as writer:
        writer.write_batch(batch)
    object_id = random_object_id()
    buf = client.create(object_id, sink.size())
    stream = pa.FixedSizeBufferWriter(pa.py_buffer(buf))
    with pa.RecordBatchStreamWriter(stream, batch.schema) as writer:
        writer.write_batch(batch)
    del writer, stream  # the writer holds the stream, which holds the buffer
    client.seal(object_id)
    del buf
    [data] = client2.get_buffers([object_id])
    batch2 = pa.ipc.open_stream(pa.py_buffer(data)).read_next_batch()
    del data
    gc.collect()
    # The batch keeps the object referenced: its memory is still the object's.
    assert ref_count(client, object_id, client2) == 1
    assert batch2.equals(batch)
    del batch2
    gc.collect()
    assert ref_count(client, object_id, client2) == 0


# --- releases: release(), with, garbage collection ---------------------------------------------


def test_buffers_keep_objects_referenced_until_released(client, client2):
    object_id = random_object_id()
    client.create_and_seal(object_id, b"x" * 100)
    [a] = client2.get_buffers([object_id])
    [b] = client2.get_buffers([object_id])
    assert ref_count(client, object_id, client2) == 1
    a.release()
    assert ref_count(client, object_id, client2) == 1  # b still holds it
    view = b[10:20]  # a slice keeps it too
    b.release()
    assert ref_count(client, object_id, client2) == 1
    del view
    assert ref_count(client, object_id, client2) == 0
    with client2.get_buffers([object_id])[0] as c:
        assert bytes(c[:3]) == b"xxx"
        assert ref_count(client, object_id, client2) == 1
    assert ref_count(client, object_id, client2) == 0
    arr = np.frombuffer(client2.get_buffers([object_id])[0], dtype=np.uint8)
    assert ref_count(client, object_id, client2) == 1 and not arr.flags.writeable
    del arr
    gc.collect()
    assert ref_count(client, object_id, client2) == 0


def test_buffer_outlives_client(store):
    client = store.client()
    object_id = random_object_id()
    client.create_and_seal(object_id, b"survivor")
    [data] = client.get_buffers([object_id])
    client.disconnect()
    del client
    gc.collect()
    assert bytes(data) == b"survivor"


# --- put / get ---------------------------------------------------------------------------------


def test_put_and_get(client, client2):
    for value in [["hello", "world", 3, 1.0], None, "hello", 3.5, {"a": [1, (2, 3)]}, b"bytes" * 1000]:
        object_id = client.put(value)
        assert client2.get(object_id) == value
    object_id = random_object_id()
    assert client.get(object_id, timeout_ms=0) is plasma.ObjectNotAvailable
    assert client.get([object_id], timeout_ms=0) == [plasma.ObjectNotAvailable]
    given = random_object_id()
    assert client.put("x", object_id=given) == given


def test_put_and_get_numpy_zero_copy(client, client2):
    value = {"big": np.arange(1_000_000, dtype=np.float64), "small": np.arange(3), "s": "meta"}
    object_id = client.put(value)
    got = client2.get(object_id)
    np.testing.assert_array_equal(got["big"], value["big"])
    np.testing.assert_array_equal(got["small"], value["small"])
    assert got["s"] == "meta"
    assert not got["big"].flags.writeable  # a view of the sealed object
    assert ref_count(client, object_id, client2) == 1
    big = got["big"]
    del got
    gc.collect()
    assert ref_count(client, object_id, client2) == 1  # the array alone keeps the object referenced
    del big
    gc.collect()
    assert ref_count(client, object_id, client2) == 0


def test_get_of_a_raw_object_says_how_to_read_it(client):
    object_id = client.put_raw_buffer(b"raw bytes")
    with pytest.raises(plasma.NotPickledObject, match="get_buffers"):
        client.get(object_id)


def test_put_and_get_raw_buffer(client):
    for _ in range(3):
        data = np.random.bytes(random.randint(1, 10_000))
        object_id = client.put_raw_buffer(data, metadata=b"RAW")
        [(metadata, buffer)] = client.get_buffers([object_id], with_meta=True)
        assert metadata == b"RAW" and bytes(buffer) == data
    array = np.arange(1000, dtype=np.int64)
    object_id = client.put_raw_buffer(array)
    [buffer] = client.get_buffers([object_id])
    np.testing.assert_array_equal(np.frombuffer(buffer, dtype=np.int64), array)


# --- capacity and eviction ------------------------------------------------------------------------


def test_store_full(client):
    def assert_create_raises_plasma_full(size):
        partial_size = np.random.randint(size)
        with pytest.raises(plasma.PlasmaStoreFull):
            create_object(client, partial_size, size - partial_size)

    memory_buffers = []
    _, memory_buffer, _ = create_object(client, 50 * PERCENT)
    memory_buffers.append(memory_buffer)
    assert_create_raises_plasma_full(50 * PERCENT + SMALL_OBJECT_SIZE)
    _, memory_buffer, _ = create_object(client, 20 * PERCENT)
    del memory_buffer
    _, memory_buffer, _ = create_object(client, 20 * PERCENT)
    del memory_buffer
    assert_create_raises_plasma_full(50 * PERCENT + SMALL_OBJECT_SIZE)
    _, memory_buffer, _ = create_object(client, 20 * PERCENT)
    memory_buffers.append(memory_buffer)
    assert_create_raises_plasma_full(30 * PERCENT + SMALL_OBJECT_SIZE)
    _, memory_buffer, _ = create_object(client, 10 * PERCENT)
    memory_buffers.append(memory_buffer)
    assert_create_raises_plasma_full(20 * PERCENT + SMALL_OBJECT_SIZE)


def test_use_full_memory(client):
    for _ in range(100):
        create_object(client, 1000, 0)
    gc.collect()
    for _ in range(2):
        create_object(client, 100_000_000, 0)
        gc.collect()
    for _ in range(3):
        object_id = random_object_id()
        with pytest.raises(plasma.PlasmaStoreFull):
            client.create(object_id, 100_000_000 + SMALL_OBJECT_SIZE)
        assert not client.contains(object_id)


def test_evict(client2):
    client = client2
    object_id1 = random_object_id()
    b1 = client.create(object_id1, 1000)
    client.seal(object_id1)
    del b1
    assert client.evict(1) == 1000
    object_id2, object_id3 = random_object_id(), random_object_id()
    b2 = client.create(object_id2, 999)
    b3 = client.create(object_id3, 998)
    client.seal(object_id3)
    del b3
    assert client.evict(1000) == 998
    object_id4 = random_object_id()
    b4 = client.create(object_id4, 997)
    client.seal(object_id4)
    del b4
    client.seal(object_id2)
    del b2
    assert client.evict(1) == 997
    assert client.evict(1) == 999
    ids = [random_object_id() for _ in range(3)]
    buffers = [client.create(i, size) for i, size in zip(ids, (996, 995, 994))]
    for i in ids:
        client.seal(i)
    del buffers
    assert client.evict(2000) == 996 + 995 + 994


# --- contains, hash, delete, abort, list ----------------------------------------------------------


def test_contains(client, client2):
    fake_object_ids = [random_object_id() for _ in range(100)]
    real_object_ids = [random_object_id() for _ in range(100)]
    for object_id in real_object_ids:
        assert not client.contains(object_id)
        client.create(object_id, 100)
        assert client.contains(object_id)  # held by this client, unsealed
        assert not client2.contains(object_id)  # the store counts only sealed objects
        client.seal(object_id)
        assert client2.contains(object_id)
    for object_id in fake_object_ids:
        assert not client.contains(object_id)


def test_hash(client):
    object_id1 = random_object_id()
    with pytest.raises(plasma.PlasmaObjectNotFound):
        client.hash(object_id1)
    length = 1000
    memory_buffer1, _ = create_object_with_id(client, object_id1, length, 0)
    object_id2 = random_object_id()
    memory_buffer2 = client.create(object_id2, length)
    memory_buffer2[:] = memory_buffer1
    client.seal(object_id2)
    assert client.hash(object_id1) == client.hash(object_id2)
    object_id3 = random_object_id()
    memory_buffer3 = client.create(object_id3, length)
    memory_buffer3[:] = memory_buffer1
    memory_buffer3[0] = (memory_buffer3[0] + 1) % 256
    client.seal(object_id3)
    assert client.hash(object_id1) != client.hash(object_id3)
    object_id4 = random_object_id()
    memory_buffer4 = client.create(object_id4, length, b"meta")
    memory_buffer4[:] = memory_buffer1
    client.seal(object_id4)
    assert client.hash(object_id1) != client.hash(object_id4)
    assert len(client.hash(object_id1)) == 8


def test_many_hashes(client):
    hashes = []
    length = 2 ** 10
    for i in range(256):
        object_id = random_object_id()
        memory_buffer = client.create(object_id, length)
        for j in range(length):
            memory_buffer[j] = i
        client.seal(object_id)
        hashes.append(client.hash(object_id))
    for i in range(length):
        object_id = random_object_id()
        memory_buffer = client.create(object_id, length)
        for j in range(length):
            memory_buffer[j] = 0
        memory_buffer[i] = 1
        client.seal(object_id)
        hashes.append(client.hash(object_id))
    for i in range(length):
        object_id = random_object_id()
        client.create(object_id, i)
        client.seal(object_id)
        hashes.append(client.hash(object_id))
    assert len(set(hashes)) == len(hashes)


def test_illegal_functionality(client):
    object_id = random_object_id()
    memory_buffer = client.create(object_id, 1000)
    with pytest.raises(IndexError):
        memory_buffer[1000]
    client.seal(object_id)
    with pytest.raises(plasma.PlasmaObjectAlreadySealed):
        client.seal(object_id)
    with pytest.raises(plasma.PlasmaObjectNotFound):
        client.seal(random_object_id())
    [memory_buffer] = client.get_buffers([object_id])
    with pytest.raises(TypeError):
        memory_buffer[0] = 1  # read-only
    with pytest.raises(TypeError):
        client.get_buffers(object_id)  # a list is required


def test_delete(client, client2):
    object_id = random_object_id()
    client.create_and_seal(object_id, b"gone soon")
    client.delete([object_id])
    assert not client.contains(object_id)
    client.delete([random_object_id()])  # deleting a missing object is fine
    # A held object is deleted when its last buffer goes.
    object_id = random_object_id()
    client.create_and_seal(object_id, b"held")
    [buffer] = client2.get_buffers([object_id])
    client2.delete([object_id])
    assert client.contains(object_id)
    buffer.release()
    assert not client.contains(object_id)
    # Several at once.
    ids = [client.put(i) for i in range(5)]
    client.delete(ids)
    assert not any(client2.contains(i) for i in ids)


def test_abort(client, client2):
    object_id = random_object_id()
    buffer = client.create(object_id, 100)
    assert "created" == client2.list()[object_id]["state"]
    with pytest.raises(plasma.PlasmaError, match="release it"):
        client.abort(object_id)  # its buffer is still in use
    buffer.release()
    client.abort(object_id)
    assert object_id not in client2.list()
    # The id can be created again.
    with client.create(object_id, 3) as again:
        again[:] = b"abc"
    client.seal(object_id)
    assert bytes(client2.get_buffers([object_id])[0]) == b"abc"
    with pytest.raises(plasma.PlasmaObjectNotFound):
        client.abort(object_id)  # sealed


def test_plasma_list(client, client2):
    object_id1, object_id2, object_id3 = (random_object_id() for _ in range(3))
    u, _ = create_object_with_id(client, object_id1, 1000, 100)
    del u
    gc.collect()
    info = client.list()[object_id1]
    assert (info["data_size"], info["metadata_size"], info["state"]) == (1000, 100, "sealed")
    assert info["ref_count"] == 0
    [buffer] = client2.get_buffers([object_id1])
    assert client.list()[object_id1]["ref_count"] == 1
    del buffer
    gc.collect()
    assert ref_count(client, object_id1, client2) == 0
    t1 = time.time()
    x, _ = create_object_with_id(client, object_id2, 3000, 0, seal=False)
    t2 = time.time()
    info = client2.list()[object_id2]
    assert info["state"] == "created" and info["construct_duration"] == -1
    assert t1 - 1.5 <= info["create_time"] <= t2 + 1.5
    time.sleep(2.0)
    client.seal(object_id2)
    info = client2.list()[object_id2]
    assert info["state"] == "sealed" and 2 <= info["construct_duration"] <= 3
    del x
    create_object_with_id(client, object_id3, 0, 0)
    assert client.list()[object_id3]["data_size"] == 0


def test_set_client_options_and_debug_string(store_factory, kind):
    store = store_factory(10_000_000, kind)
    client, other = store.client(), store.client()
    client.set_client_options("quota-client", 5 * 1024 * 1024)
    with pytest.raises(plasma.PlasmaStoreFull):
        client.set_client_options("quota-client", 1024)  # one quota per client
    with pytest.raises(plasma.PlasmaStoreFull):
        other.set_client_options("too-big", 8 * 1024 * 1024)  # 30 % must stay global
    text = client.debug_string()
    assert "num clients with quota: 1" in text and "(quota-client) capacity: 5242880" in text


# --- notifications ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 10, 100, 1000, 10000])
def test_subscribe(client, count):
    client.subscribe()
    metadata_sizes = [random.randint(0, 50) for _ in range(count)]
    data_sizes = [random.randint(0, 1000) for _ in range(count)]
    object_ids = [random_object_id() for _ in range(count)]
    for i in range(count):
        create_object_with_id(client, object_ids[i], data_sizes[i], metadata_sizes[i])
    for i in range(count):
        assert client.get_next_notification() == (object_ids[i], data_sizes[i], metadata_sizes[i])


def test_subscribe_socket(client):
    client.subscribe()
    rsock = client.get_notification_socket()
    for i in range(3):
        object_id, _, _ = create_object(client, i * 10, i)
        (length,) = struct.unpack("=q", rsock.recv(8))
        payload = b""
        while len(payload) < length:
            payload += rsock.recv(length - len(payload))
        ids, sizes, metadata_sizes = client.decode_notifications(payload)
        assert (ids, list(sizes), list(metadata_sizes)) == ([object_id], [i * 10], [i])


def test_subscribe_deletions(client, client2):
    client.subscribe()
    for i in range(10):
        object_id, buffer, _ = create_object(client2, random.randint(1, 1000), random.randint(0, 50))
        del buffer
        gc.collect()
        assert client.get_next_notification()[0] == object_id
        client2.evict(1)
        assert client.get_next_notification() == (object_id, -1, -1)
    # Nine zero-size objects and one more: evict(1) takes all ten.
    ids = []
    for _ in range(9):
        object_id, _, _ = create_object(client2, 0, 0)
        ids.append(object_id)
        assert client.get_next_notification() == (object_id, 0, 0)
    object_id, buffer, _ = create_object(client2, 10, 5)
    del buffer
    gc.collect()
    ids.append(object_id)
    assert client.get_next_notification() == (object_id, 10, 5)
    assert client2.evict(1) == 15
    for object_id in ids:
        assert client.get_next_notification() == (object_id, -1, -1)


def test_subscriber_sees_existing_objects(client, client2):
    ids = [client.put(i) for i in range(3)]
    client2.subscribe()
    seen = {client2.get_next_notification()[0] for _ in ids}
    assert seen == set(ids)


# --- processes -----------------------------------------------------------------------------------


def _child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_client_death_during_get(store, client):
    object_id = random_object_id()
    child = _child("import sys, plasmapool as p; c = p.connect(sys.argv[1]); "
                   "c.get_buffers([p.ObjectID(bytes.fromhex(sys.argv[2]))])", store.socket, object_id.hex())
    time.sleep(1.0)
    child.kill()
    child.wait()
    client.put_raw_buffer(b"after", object_id=object_id)
    assert client.contains(object_id) and bytes(client.get_buffers([object_id])[0]) == b"after"


def test_client_getting_multiple_objects(store, client):
    object_ids = [random_object_id() for _ in range(10)]
    child = _child("import sys, plasmapool as p; c = p.connect(sys.argv[1]); "
                   "bs = c.get_buffers([p.ObjectID(bytes.fromhex(h)) for h in sys.argv[2:]]); "
                   "print(sum(len(b) for b in bs))", store.socket, *(o.hex() for o in object_ids))
    time.sleep(0.5)
    for object_id in object_ids:
        client.put_raw_buffer(b"12345", object_id=object_id)
    out, err = child.communicate(timeout=5)
    assert child.returncode == 0, err.decode()
    assert out.strip() == b"50"


def test_disconnect(store):
    client = store.client()
    object_id = client.put("kept")
    client.disconnect()
    with pytest.raises(plasma.PlasmaStoreDisconnected, match="disconnected"):
        client.contains(object_id)
    with plasma.connect(store.socket) as again:
        assert again.get(object_id) == "kept"
