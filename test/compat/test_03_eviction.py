"""Capacity accounting, LRU order and eviction (docs §3.11, §9)."""

import pyarrow.plasma as plasma
import pytest

from compat_util import new_id, payload, put_bytes, read_bytes

MB = 1_000_000


def test_evict_takes_least_recently_released_first(client, client2):
    sizes = [1000, 2000, 3000, 4000, 5000]
    ids = [put_bytes(client, payload(s, i)) for i, s in enumerate(sizes)]
    assert client.evict(1) == 1000
    assert not client.contains(ids[0])
    # A get + release moves ids[1] to the most-recently-used end.
    assert read_bytes(client2, ids[1]) == payload(2000, 1)
    client2.list()  # round trip: client2's Release has been handled
    assert client.evict(1) == 3000
    assert client.evict(4001) == 4000 + 5000
    assert [client.contains(i) for i in ids] == [False, True, False, False, False]
    assert client.evict(1) == 2000
    assert client.evict(1) == 0


def test_held_objects_are_never_evicted(client, client2):
    held_id = put_bytes(client, payload(50_000, 1))
    free_ids = [put_bytes(client, payload(10_000, i)) for i in range(3)]
    [held] = client2.get_buffers([held_id], timeout_ms=0)
    assert client.evict(10 * MB) == 30_000
    assert client.contains(held_id) and not any(client.contains(i) for i in free_ids)
    assert bytes(held) == payload(50_000, 1)
    del held


def test_evicting_zero_size_objects_continues_to_a_non_empty_one(client):
    zeros = [put_bytes(client, b"") for _ in range(5)]
    big = put_bytes(client, payload(100))
    after = put_bytes(client, payload(50))
    assert client.evict(1) == 100
    assert not any(client.contains(z) for z in zeros) and not client.contains(big)
    assert client.contains(after)


def test_create_in_a_full_store_evicts_at_least_a_fifth_of_capacity(start):
    store = start(1 * MB)
    client = store.client()
    ids = [put_bytes(client, payload(100_000, i)) for i in range(9)]
    new = put_bytes(client, payload(200_000, 99))
    # required = 100 kB, but eviction frees max(required, capacity / 5) = 200 kB (§9).
    assert [client.contains(i) for i in ids] == [False, False] + [True] * 7
    assert read_bytes(client, new) == payload(200_000, 99)
    for i in range(2, 9):
        assert read_bytes(client, ids[i]) == payload(100_000, i)


def test_store_full_when_held_objects_leave_no_room(start):
    store = start(1 * MB)
    client, reader = store.client(), store.client()
    pinned = put_bytes(client, payload(600_000, 1))
    [held] = reader.get_buffers([pinned], timeout_ms=0)
    put_bytes(client, payload(100_000, 2))  # evictable
    oid = new_id()
    for _ in range(3):
        with pytest.raises(plasma.PlasmaStoreFull):
            client.create(oid, 500_000)
        assert not client.contains(oid), "a failed create leaves nothing behind"
    with pytest.raises(plasma.PlasmaStoreFull):
        client.create_and_seal(oid, payload(500_000))
    # Smaller objects still fit, and the id is usable.
    put_bytes(client, payload(300_000, 3), oid=oid)
    assert read_bytes(client, oid) == payload(300_000, 3)
    assert bytes(held) == payload(600_000, 1)
    del held


def test_object_of_exactly_the_capacity_fits(start):
    capacity = 1 * MB
    store = start(capacity)
    client, client2 = store.client(), store.client()
    small = [put_bytes(client, payload(1000 + i, i)) for i in range(20)]
    first = put_bytes(client2, payload(capacity, 1))
    assert not any(client.contains(i) for i in small)
    second = put_bytes(client2, payload(capacity, 2))
    assert not client.contains(first)
    assert read_bytes(client, second) == payload(capacity, 2)
    too_big = new_id()
    for _ in range(3):
        with pytest.raises(plasma.PlasmaStoreFull):
            client.create(too_big, capacity + 1)
        assert not client.contains(too_big)
    with pytest.raises(plasma.PlasmaStoreFull):
        client.create(too_big, capacity, b"m")  # data + metadata count together
    put_bytes(client, b"fits", oid=too_big)
