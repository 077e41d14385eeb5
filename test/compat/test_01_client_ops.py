"""Every basic pyarrow.plasma operation, in API order, through the real client."""

import time

import numpy as np
import pyarrow.plasma as plasma
import pytest

from compat_util import new_id, payload, put_bytes, read_bytes, wait_until


def test_connect_reports_store_capacity(start):
    for capacity in (10_000, 12_345_679):
        store = start(capacity)
        assert store.client().store_capacity() == capacity


def test_connect_to_missing_socket_raises(tmp_path):
    with pytest.raises(OSError):
        plasma.connect(str(tmp_path / "no.sock"), num_retries=1)


@pytest.mark.parametrize("data_size,metadata_size", [
    (0, 0), (1, 0), (0, 7), (50, 3), (4096, 0), ((1 << 20) + 3, 100)])
def test_create_write_seal_then_other_client_reads(client, client2, data_size, metadata_size):
    data, meta = payload(data_size, 1), payload(metadata_size, 2)
    oid = put_bytes(client, data, meta)
    [(got_meta, got_data)] = client2.get_buffers([oid], timeout_ms=0, with_meta=True)
    assert bytes(got_data) == data
    assert bytes(got_meta) == meta
    [meta_buf] = client2.get_metadata([oid], timeout_ms=0)
    assert bytes(meta_buf) == meta


def test_create_existing_id_raises_object_exists(client, client2):
    oid = new_id()
    buf = client.create(oid, 10)
    with pytest.raises(plasma.PlasmaObjectExists):
        client.create(oid, 10)
    with pytest.raises(plasma.PlasmaObjectExists):
        client2.create(oid, 20)
    client.seal(oid)
    del buf
    with pytest.raises(plasma.PlasmaObjectExists):
        client2.create_and_seal(oid, b"x")
    with pytest.raises(plasma.PlasmaObjectExists):
        client2.create(oid, 10)


def test_create_and_seal_then_other_client_reads(client, client2):
    ids = []
    for i in range(20):
        oid = new_id()
        client.create_and_seal(oid, payload(i * 37, i), payload(i, i + 1))
        ids.append(oid)
    results = client2.get_buffers(ids, timeout_ms=0, with_meta=True)
    for i, (meta, data) in enumerate(results):
        assert bytes(data) == payload(i * 37, i)
        assert bytes(meta) == payload(i, i + 1)
    with pytest.raises(plasma.PlasmaObjectExists):
        client2.create_and_seal(ids[3], b"again")


@pytest.mark.filterwarnings("ignore::FutureWarning")  # pyarrow 11 deprecates its serialization
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_put_and_get_python_values(client, client2):
    values = [{"a": 1, "b": [1, 2, 3]}, np.arange(1000, dtype=np.int64), "text", b"bytes", 42]
    ids = [client.put(v) for v in values]
    got = client2.get(ids, timeout_ms=0)
    for value, result in zip(values, got):
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(result, value)
        else:
            assert result == value
    assert client2.get(new_id(), timeout_ms=0) is plasma.ObjectNotAvailable
    assert client2.get([new_id()], timeout_ms=0) == [plasma.ObjectNotAvailable]


def test_contains(client, client2):
    oid = new_id()
    assert not client.contains(oid)
    buf = client.create(oid, 8)
    assert client.contains(oid), "the creator answers locally (§3.9)"
    assert not client2.contains(oid), "an unsealed object counts as absent for others"
    client.seal(oid)
    del buf
    assert client2.contains(oid)
    client2.delete([oid])
    assert not client2.contains(oid)
    assert not client.contains(oid)


def test_list_reports_state_refcount_and_times_in_seconds(client, client2):
    oid = new_id()
    before = time.time()
    buf = client.create(oid, 100, b"meta!")
    info = client2.list()[oid]
    assert info["state"] == "created"
    assert info["data_size"] == 100 and info["metadata_size"] == 5
    assert info["ref_count"] == 1
    assert before - 2 <= info["create_time"] <= time.time() + 2, "create_time is Unix seconds"
    assert info["construct_duration"] == -1, "-1 while unsealed (§2.5)"
    time.sleep(1.1)
    client.seal(oid)
    info = client.list()[oid]
    assert info["state"] == "sealed"
    assert info["construct_duration"] in (1, 2), "construct_duration is in seconds"
    assert info["ref_count"] == 1, "the creator still holds its buffer"
    del buf
    assert client.list()[oid]["ref_count"] == 0, "release on the same connection comes first"
    [b1] = client2.get_buffers([oid], timeout_ms=0)
    [b2] = client2.get_buffers([oid], timeout_ms=0)
    assert client2.list()[oid]["ref_count"] == 1, "one reference per client, however many gets"
    [b3] = client.get_buffers([oid], timeout_ms=0)
    assert client.list()[oid]["ref_count"] == 2
    del b1, b2, b3


def test_release_happens_when_the_buffer_dies(client, client2):
    oid = put_bytes(client, b"y" * 1000)
    [buf] = client2.get_buffers([oid], timeout_ms=0)
    assert client2.list()[oid]["ref_count"] == 1
    assert client2.evict(1000) == 0, "a held object is not evictable"
    del buf
    assert client2.list()[oid]["ref_count"] == 0
    assert client2.evict(10_000_000) >= 1000
    assert not client2.contains(oid), "released objects are evictable"


def test_delete_unheld_object_removes_it(client, client2):
    oid = put_bytes(client, payload(300))
    client2.delete([oid])
    assert not client2.contains(oid)
    assert oid not in client.list()
    put_bytes(client, payload(10), oid=oid)  # the id is free again
    assert read_bytes(client2, oid) == payload(10)


def test_delete_of_missing_object_is_not_an_error(client):
    client.delete([new_id(), new_id()])


def test_delete_is_deferred_while_another_client_holds_the_object(client, client2):
    oid = put_bytes(client, payload(5000, 3))
    [held] = client2.get_buffers([oid], timeout_ms=0)
    client.delete([oid])
    assert client.contains(oid), "deletion waits for the last release (§3.8)"
    assert bytes(held) == payload(5000, 3)
    del held
    # client2's Release precedes its Contains on the same connection.
    assert not client2.contains(oid)
    assert oid not in client.list()


def test_delete_of_own_held_object_is_deferred_by_the_client(client, client2):
    oid = put_bytes(client, payload(64))
    [held] = client.get_buffers([oid], timeout_ms=0)
    client.delete([oid])
    assert client2.contains(oid)
    del held  # Release, then the client's deferred DeleteRequest
    assert not client.contains(oid)


def test_hash_is_the_content_digest(client, client2):
    a = put_bytes(client, payload(1000, 1), b"m")
    b = put_bytes(client2, payload(1000, 1), b"m")
    c = put_bytes(client, payload(1000, 1), b"n")
    d = put_bytes(client, payload(1000, 2), b"m")
    big = put_bytes(client, payload((1 << 20) + 17, 5), b"meta")
    assert client.hash(a) == client2.hash(b) == client2.hash(a)
    assert len({client.hash(x) for x in (a, c, d, big)}) == 4
    assert len(client.hash(a)) == 8
    with pytest.raises(plasma.PlasmaObjectNotFound):
        client.hash(new_id())


def test_buffer_outlives_its_client(store):
    writer, reader = store.client(), store.client()
    oid = put_bytes(writer, payload(100_000, 9), b"meta")
    [buf] = reader.get_buffers([oid], timeout_ms=0)
    reader.disconnect()
    del reader
    assert bytes(buf) == payload(100_000, 9), "the mapping lives as long as the buffer"
    assert read_bytes(writer, oid) == payload(100_000, 9)
    # The disconnect dropped the reader's reference.
    wait_until(lambda: writer.list()[oid]["ref_count"] == 0, what="ref_count 0 after disconnect")
    del buf


def test_sealed_objects_survive_their_creator(store):
    creator, other = store.client(), store.client()
    oid = put_bytes(creator, payload(777, 4))
    creator.disconnect()
    assert read_bytes(other, oid) == payload(777, 4)


def test_unsealed_objects_are_aborted_when_the_creator_disconnects(store):
    creator, other = store.client(), store.client()
    oid = new_id()
    buf = creator.create(oid, 1000)
    assert other.list()[oid]["state"] == "created"
    creator.disconnect()
    wait_until(lambda: oid not in other.list(), what="unsealed object removed after disconnect")
    put_bytes(other, b"reborn", oid=oid)
    assert read_bytes(other, oid) == b"reborn"
    del buf
