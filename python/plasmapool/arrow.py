"""Arrow tables as Plasma objects, compatible with the TypeScript putTable/getTable
(src/arrow/table-objects.ts): an object's data is one Arrow IPC stream and its
metadata the marker ARROW_STREAM_METADATA. Needs pyarrow (12 or newer)."""

from __future__ import annotations

import struct

from .errors import NotArrowObject, ObjectNotAvailable
from .object_id import ObjectID, id_bytes

ARROW_STREAM_METADATA = b"plasmapool/arrow-ipc-stream;v=1"


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.ipc  # noqa: F401
    except ImportError as error:
        raise ImportError("the Arrow helpers of plasmapool need pyarrow >= 12: pip install 'plasmapool[arrow]'") from error
    return pyarrow


def _write_stream(pa, sink, table) -> None:
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)


def put_table(client, table, object_id=None) -> ObjectID:
    """Write `table` as an Arrow IPC stream straight into a new object (one copy) and seal it."""
    pa = _pyarrow()
    if not isinstance(table, pa.Table):
        raise TypeError(f"put_table() needs a pyarrow.Table, got {type(table).__name__}")
    target = object_id if object_id is not None else ObjectID.from_random()
    counter = pa.MockOutputStream()
    _write_stream(pa, counter, table)
    size = counter.size()
    buffer = client.create(target, size, ARROW_STREAM_METADATA)
    try:
        sink = pa.FixedSizeBufferWriter(pa.py_buffer(buffer))
        _write_stream(pa, sink, table)
        written = sink.tell()
        sink.close()
        del sink
        if written != size:
            raise RuntimeError(f"Arrow IPC wrote {written} bytes, {size} were measured")
    except BaseException:
        buffer.release()
        client.abort(target)
        raise
    client.seal(target)
    buffer.release()
    return target if isinstance(target, ObjectID) else ObjectID(id_bytes(target))


def _looks_like_stream(data: memoryview) -> bool:
    """pyarrow writes no marker: accept data that starts like an IPC stream (a
    continuation marker and a positive metadata length, or the pre-0.15 form)."""
    if len(data) < 8:
        return False
    first, second = struct.unpack_from("<Ii", data, 0)
    continuation = first == 0xFFFFFFFF
    length = second if continuation else struct.unpack_from("<i", data, 0)[0]
    return length > 0 and (8 if continuation else 4) + length <= len(data)


def get_table(client, object_id, timeout_ms: int = -1):
    """Open an object as a pyarrow Table without copying: its buffers are views of the
    store's memory, and the object stays referenced while the table (or anything taken
    from it) lives. Raises ObjectNotAvailable after the timeout, NotArrowObject for
    objects that hold something else."""
    pa = _pyarrow()
    oid = id_bytes(object_id)
    got = client._get_one(oid, timeout_ms)
    if got is None:
        raise ObjectNotAvailable(f"object {oid.hex()} is not available: not sealed within {timeout_ms} ms")
    data, metadata = got
    describe = f"object {oid.hex()} ({len(data)} bytes of data, metadata {metadata[:40]!r})"
    if metadata != ARROW_STREAM_METADATA and not _looks_like_stream(data):
        data.release()
        raise NotArrowObject(f"{describe} does not hold an Arrow IPC stream: write it with put_table() "
                             f"or pyarrow.ipc.new_stream")
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except (pa.ArrowException, OSError) as error:  # malformed streams raise ArrowInvalid or OSError
        raise NotArrowObject(f"{describe} is not a readable Arrow IPC stream: {error}") from error
