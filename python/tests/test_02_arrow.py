"""put_table / get_table: one copy in, zero copies out, against both stores."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
import pytest

import plasmapool as plasma
from maps import mapping_of


def address_of(view: memoryview) -> int:
    return np.frombuffer(view, dtype=np.uint8).ctypes.data


def table_buffers(table: pa.Table):
    for column in table.columns:
        for chunk in column.chunks:
            for buffer in chunk.buffers():
                if buffer is not None and buffer.size > 0:
                    yield buffer


def settle(*clients) -> None:
    for c in clients:
        c.contains(plasma.ObjectID.from_random())  # a round trip: earlier releases have arrived


def test_put_table_and_get_table_round_trip(client, client2):
    n = 200_000
    table = pa.table({"x": np.arange(n, dtype=np.int64), "y": np.random.rand(n),
                      "s": [f"v{i % 13}" for i in range(n)], "maybe": pa.array([None if i % 5 else i for i in range(n)])})
    object_id = client.put_table(table)
    info = client.list()[object_id]
    assert info["state"] == "sealed"
    [metadata] = client.get_metadata([object_id])
    assert bytes(metadata) == plasma.ARROW_STREAM_METADATA
    del metadata
    got = client2.get_table(object_id)
    assert got.equals(table)
    given = plasma.ObjectID.from_random()
    assert client.put_table(table.slice(0, 10), object_id=given) == given
    assert client2.get_table(given).equals(table.slice(0, 10))


def test_get_table_is_zero_copy_and_keeps_the_object_referenced(client, client2):
    table = pa.table({"x": np.arange(1_000_000, dtype=np.int64)})
    object_id = client.put_table(table)
    [data] = client2.get_buffers([object_id])
    start, end = address_of(data), address_of(data) + len(data)
    region = mapping_of(start, len(data))
    data.release()
    got = client2.get_table(object_id)
    settle(client2)
    assert client.list()[object_id]["ref_count"] == 1
    # Every column buffer lies inside the object's bytes in the store's mapped segment.
    buffer = None
    for buffer in table_buffers(got):
        assert start <= buffer.address and buffer.address + buffer.size <= end
        assert mapping_of(buffer.address, buffer.size) == region
    del buffer
    column = got.column("x")
    del got
    gc.collect()
    settle(client2)
    assert client.list()[object_id]["ref_count"] == 1  # the column alone keeps it
    assert column[999_999].as_py() == 999_999
    del column
    gc.collect()
    settle(client2)
    assert client.list()[object_id]["ref_count"] == 0


def test_get_table_errors(client):
    missing = plasma.ObjectID.from_random()
    with pytest.raises(plasma.ObjectNotAvailable, match="not sealed within 10 ms"):
        client.get_table(missing, timeout_ms=10)
    raw = client.put_raw_buffer(b"definitely not arrow", metadata=b"text")
    with pytest.raises(plasma.NotArrowObject, match="put_table"):
        client.get_table(raw)
    fake = client.put_raw_buffer(b"\xff\xff\xff\xff\x08\x00\x00\x00garbage!", metadata=plasma.ARROW_STREAM_METADATA)
    with pytest.raises(plasma.NotArrowObject, match="not a readable Arrow IPC stream"):
        client.get_table(fake)
    with pytest.raises(TypeError, match="pyarrow.Table"):
        client.put_table({"x": [1]})
    # Nothing stays held after the failures.
    settle(client)
    assert all(info["ref_count"] == 0 for info in client.list().values())


def test_put_table_that_does_not_fit_leaves_nothing_behind(store_factory, kind):
    store = store_factory(1_000_000, kind)
    client = store.client()
    object_id = plasma.ObjectID.from_random()
    with pytest.raises(plasma.PlasmaStoreFull):
        client.put_table(pa.table({"x": np.arange(1_000_000, dtype=np.int64)}), object_id=object_id)
    assert object_id not in client.list()
