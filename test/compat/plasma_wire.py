"""Plasma wire protocol by hand, for what pyarrow does not expose.

Frames (docs §1.2): int64 LE version (0), int64 LE message type, int64 LE
length, then a FlatBuffers table. Tables are built and read by field slot
(docs §2.4/§2.5) with the `flatbuffers` runtime, so no generated code is
needed and malformed messages are easy to make on purpose.

The connection that speaks it is in plasma_raw.py.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

import flatbuffers
from flatbuffers import number_types as N
from flatbuffers.table import Table


class Msg(enum.IntEnum):
    DisconnectClient = 0
    CreateRequest = 1
    CreateReply = 2
    CreateAndSealRequest = 3
    CreateAndSealReply = 4
    AbortRequest = 5
    AbortReply = 6
    SealRequest = 7
    SealReply = 8
    GetRequest = 9
    GetReply = 10
    ReleaseRequest = 11
    ReleaseReply = 12
    DeleteRequest = 13
    DeleteReply = 14
    ContainsRequest = 15
    ContainsReply = 16
    ListRequest = 17
    ListReply = 18
    ConnectRequest = 19
    ConnectReply = 20
    EvictRequest = 21
    EvictReply = 22
    SubscribeRequest = 23
    UnsubscribeRequest = 24
    DataRequest = 25
    DataReply = 26
    Notification = 27
    SetOptionsRequest = 28
    SetOptionsReply = 29
    GetDebugStringRequest = 30
    GetDebugStringReply = 31
    CreateAndSealBatchRequest = 32
    CreateAndSealBatchReply = 33
    RefreshLRURequest = 34
    RefreshLRUReply = 35


class Err(enum.IntEnum):
    OK = 0
    ObjectExists = 1
    ObjectNotFound = 2
    OutOfMemory = 3
    ObjectNotSealed = 4
    ObjectInUse = 5


HEADER = struct.Struct("<qqq")
SPEC = struct.Struct("<i4xQQQQi4x")  # PlasmaObjectSpec, 48 bytes (§2.3)
NOT_AVAILABLE = 2**64 - 1  # data_size -1 as uint64 in a GetReply placeholder


# --- building tables by slot ------------------------------------------------------

def table(*fields, force_defaults: bool = False) -> bytes:
    """Build one root table. Each field is (slot, kind, value); kinds:
    'str' (raw bytes), 'strvec' ([bytes]), 'i64', 'u64', 'i32', 'bool',
    'i32vec' ([int]). Returns the finished FlatBuffers bytes."""
    b = flatbuffers.Builder(1024)
    b.ForceDefaults(force_defaults)
    offsets = {}
    for slot, kind, value in fields:
        if kind == "str":
            offsets[slot] = b.CreateString(bytes(value))
        elif kind == "strvec":
            strs = [b.CreateString(bytes(v)) for v in value]
            b.StartVector(4, len(strs), 4)
            for off in reversed(strs):
                b.PrependUOffsetTRelative(off)
            offsets[slot] = b.EndVector()
        elif kind == "i32vec":
            b.StartVector(4, len(value), 4)
            for v in reversed(value):
                b.PrependInt32(v)
            offsets[slot] = b.EndVector()
    nslots = max((slot for slot, _, _ in fields), default=-1) + 1
    b.StartObject(nslots)
    for slot, kind, value in fields:
        if slot in offsets:
            b.PrependUOffsetTRelativeSlot(slot, offsets[slot], 0)
        elif kind == "i64":
            b.PrependInt64Slot(slot, value, 0)
        elif kind == "u64":
            b.PrependUint64Slot(slot, value, 0)
        elif kind == "i32":
            b.PrependInt32Slot(slot, value, 0)
        elif kind == "bool":
            b.PrependBoolSlot(slot, value, False)
        else:
            raise ValueError(kind)
    root = b.EndObject()
    b.Finish(root)
    return bytes(b.Output())


def frame(msg_type: int, body: bytes, version: int = 0, length: int | None = None) -> bytes:
    return HEADER.pack(version, int(msg_type), len(body) if length is None else length) + body


# Requests (slots from docs §2.4). pyarrow always sends evict_if_full = true.
def connect_request() -> bytes:
    return table()


def create_request(oid: bytes, data_size: int, metadata_size: int = 0,
                   evict_if_full: bool = True, device_num: int = 0) -> bytes:
    return table((0, "str", oid), (1, "bool", evict_if_full), (2, "u64", data_size),
                 (3, "u64", metadata_size), (4, "i32", device_num))


def create_and_seal_request(oid: bytes, data: bytes, metadata: bytes = b"",
                            digest: bytes = b"\0" * 8, evict_if_full: bool = True) -> bytes:
    return table((0, "str", oid), (1, "bool", evict_if_full), (2, "str", data),
                 (3, "str", metadata), (4, "str", digest))


def create_and_seal_batch_request(oids, datas, metadatas, digests, evict_if_full=True) -> bytes:
    return table((0, "strvec", oids), (1, "bool", evict_if_full), (2, "strvec", datas),
                 (3, "strvec", metadatas), (4, "strvec", digests))


def abort_request(oid: bytes) -> bytes:
    return table((0, "str", oid))


def seal_request(oid: bytes, digest: bytes = b"\0" * 8) -> bytes:
    return table((0, "str", oid), (1, "str", digest))


def get_request(oids, timeout_ms: int) -> bytes:
    return table((0, "strvec", oids), (1, "i64", timeout_ms))


def release_request(oid: bytes) -> bytes:
    return table((0, "str", oid))


def delete_request(oids) -> bytes:
    return table((0, "i32", len(oids)), (1, "strvec", oids))


def contains_request(oid: bytes) -> bytes:
    return table((0, "str", oid))


def list_request() -> bytes:
    return table()


def evict_request(num_bytes: int) -> bytes:
    return table((0, "u64", num_bytes))


def subscribe_request() -> bytes:
    return table()


def set_options_request(name: bytes, quota: int) -> bytes:
    return table((0, "str", name), (1, "i64", quota))


def debug_string_request() -> bytes:
    return table()


def refresh_lru_request(oids) -> bytes:
    return table((0, "strvec", oids))


# --- reading tables by slot ---------------------------------------------------------

class View:
    """Read access to one table by slot, applying scalar defaults (§1.3)."""

    def __init__(self, buf: bytes, pos: int | None = None):
        # Share one buffer between the views of a message: copying it per view made vectors of
        # tables quadratic in the message size.
        self.buf = buf if isinstance(buf, bytearray) else bytearray(buf)
        if pos is None:
            pos = struct.unpack_from("<I", self.buf, 0)[0]
        self.t = Table(self.buf, pos)

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def has(self, slot: int) -> bool:
        return self._off(slot) != 0

    def _scalar(self, slot, flags, default=0):
        o = self._off(slot)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def i64(self, slot): return self._scalar(slot, N.Int64Flags)
    def u64(self, slot): return self._scalar(slot, N.Uint64Flags)
    def i32(self, slot): return self._scalar(slot, N.Int32Flags)
    def bool(self, slot): return bool(self._scalar(slot, N.BoolFlags, False))

    def str(self, slot):
        o = self._off(slot)
        return self.t.String(o + self.t.Pos) if o else None

    def _vec(self, slot):
        o = self._off(slot)
        if not o:
            return None, 0
        return self.t.Vector(o), self.t.VectorLen(o)

    def strvec(self, slot):
        start, n = self._vec(slot)
        if start is None:
            return None
        return [self.t.String(start + 4 * i) for i in range(n)]

    def scalarvec(self, slot, fmt):
        start, n = self._vec(slot)
        if start is None:
            return None
        size = struct.calcsize(fmt)
        return [struct.unpack_from(fmt, self.buf, start + size * i)[0] for i in range(n)]

    def structvec(self, slot, st: struct.Struct):
        start, n = self._vec(slot)
        if start is None:
            return None
        return [st.unpack_from(self.buf, start + st.size * i) for i in range(n)]

    def tablevec(self, slot):
        start, n = self._vec(slot)
        if start is None:
            return None
        return [View(self.buf, self.t.Indirect(start + 4 * i)) for i in range(n)]


@dataclass
class ObjectInfo:
    object_id: bytes
    data_size: int
    metadata_size: int
    ref_count: int
    create_time: int
    construct_duration: int
    digest: bytes | None
    is_deletion: bool


def object_info(v: View) -> ObjectInfo:
    return ObjectInfo(v.str(0), v.i64(1), v.i64(2), v.i32(3), v.i64(4), v.i64(5), v.str(6), v.bool(7))


def notification_infos(body: bytes) -> list[ObjectInfo]:
    infos = View(body).tablevec(0)
    assert infos is not None, "PlasmaNotification without object_info (§2.6)"
    return [object_info(v) for v in infos]
