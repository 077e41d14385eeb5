"""The format of put()/get() objects: pickle protocol 5 with out-of-band buffers.

pyarrow.plasma's put/get used pyarrow's removed serialization. Here an object's
data is

    header:  b"PPK5", u32 format version (1), u64 pickle length, u64 buffer count,
             then per buffer: u64 offset, u64 length   (all little-endian)
    the pickle stream (protocol 5)
    each out-of-band buffer, 64-byte aligned, at its offset

and its metadata is PICKLE_METADATA. Large contiguous buffers (numpy arrays, bytes
of pickle.PickleBuffer) are written once, straight into the object, and come back
from get() as read-only zero-copy views of the store's memory.
"""

from __future__ import annotations

import pickle
import struct

PICKLE_METADATA = b"plasmapool/pickle5;v=1"
_MAGIC = b"PPK5"
_VERSION = 1
_HEAD = struct.Struct("<4sIQQ")
_ENTRY = struct.Struct("<QQ")
_ALIGN = 64


class Pickled:
    """A value pickled with its out-of-band buffers, ready to be written into an object."""

    def __init__(self, value):
        self.buffers: list[memoryview] = []

        def out_of_band(buffer: pickle.PickleBuffer) -> bool:
            try:
                self.buffers.append(buffer.raw())
            except BufferError:  # not contiguous: pickle it in-band
                return True
            return False

        self.stream = pickle.dumps(value, protocol=5, buffer_callback=out_of_band)
        at = _HEAD.size + _ENTRY.size * len(self.buffers) + len(self.stream)
        self.offsets = []
        for buffer in self.buffers:
            at += -at % _ALIGN
            self.offsets.append(at)
            at += buffer.nbytes
        self.size = at

    def write_into(self, target: memoryview) -> None:
        _HEAD.pack_into(target, 0, _MAGIC, _VERSION, len(self.stream), len(self.buffers))
        at = _HEAD.size
        for offset, buffer in zip(self.offsets, self.buffers):
            _ENTRY.pack_into(target, at, offset, buffer.nbytes)
            at += _ENTRY.size
        target[at:at + len(self.stream)] = self.stream
        for offset, buffer in zip(self.offsets, self.buffers):
            target[offset:offset + buffer.nbytes] = buffer


def is_pickled(data: memoryview, metadata: bytes) -> bool:
    return metadata == PICKLE_METADATA and len(data) >= _HEAD.size and bytes(data[:4]) == _MAGIC


def unpickle(data: memoryview):
    """The value in an object's data; out-of-band buffers are views of `data`."""
    magic, version, stream_length, count = _HEAD.unpack_from(data, 0)
    if version != _VERSION:
        raise ValueError(f"pickled object of format version {version}; this client reads version {_VERSION}")
    at = _HEAD.size
    buffers = []
    for _ in range(count):
        offset, length = _ENTRY.unpack_from(data, at)
        buffers.append(data[offset:offset + length])
        at += _ENTRY.size
    return pickle.loads(data[at:at + stream_length], buffers=buffers)
