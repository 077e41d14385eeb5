"""Plasma requests and replies (plasma-protocol §2): encoders of the requests this
client sends, decoders of the replies it reads. Slots follow fbs/plasma.fbs."""

from __future__ import annotations

import struct
from typing import NamedTuple

from ._flatbuf import BOOL, BYTES, BYTES_VECTOR, I32, I64, U64, Table, Template, encode_table

# MessageType (§2.1).
CREATE_REQUEST, CREATE_REPLY = 1, 2
CREATE_AND_SEAL_REQUEST, CREATE_AND_SEAL_REPLY = 3, 4
ABORT_REQUEST, ABORT_REPLY = 5, 6
SEAL_REQUEST, SEAL_REPLY = 7, 8
GET_REQUEST, GET_REPLY = 9, 10
RELEASE_REQUEST = 11
DELETE_REQUEST, DELETE_REPLY = 13, 14
CONTAINS_REQUEST, CONTAINS_REPLY = 15, 16
LIST_REQUEST, LIST_REPLY = 17, 18
CONNECT_REQUEST, CONNECT_REPLY = 19, 20
EVICT_REQUEST, EVICT_REPLY = 21, 22
SUBSCRIBE_REQUEST = 23
SET_OPTIONS_REQUEST, SET_OPTIONS_REPLY = 28, 29
DEBUG_STRING_REQUEST, DEBUG_STRING_REPLY = 30, 31

NAMES = {
    CREATE_REQUEST: "CreateRequest", CREATE_AND_SEAL_REQUEST: "CreateAndSealRequest",
    ABORT_REQUEST: "AbortRequest", SEAL_REQUEST: "SealRequest", GET_REQUEST: "GetRequest",
    DELETE_REQUEST: "DeleteRequest", CONTAINS_REQUEST: "ContainsRequest",
    LIST_REQUEST: "ListRequest", CONNECT_REQUEST: "ConnectRequest",
    EVICT_REQUEST: "EvictRequest", SET_OPTIONS_REQUEST: "SetOptionsRequest",
    DEBUG_STRING_REQUEST: "GetDebugStringRequest",
}

# PlasmaError (§2.2).
OK, OBJECT_EXISTS, OBJECT_NOT_FOUND, OUT_OF_MEMORY = 0, 1, 2, 3

# PlasmaObjectSpec (§2.3): segment_index, data_offset, data_size, metadata_offset,
# metadata_size, device_num; 48 bytes with padding.
OBJECT_SPEC = struct.Struct("<i4xQqQQi4x")
NOT_AVAILABLE = -1  # data_size of a missing object in a GetReply


class ObjectSpec(NamedTuple):
    segment: int
    data_offset: int
    data_size: int
    metadata_offset: int
    metadata_size: int
    device_num: int


class CreateReply(NamedTuple):
    error: int
    spec: ObjectSpec
    segment: int
    mmap_size: int


class GetReply(NamedTuple):
    specs: list
    segments: list
    mmap_sizes: list


_EMPTY = encode_table([])


def empty() -> bytes:
    return _EMPTY


# The messages of the hot path, patched into fixed encodings (ids are 20 bytes, digests 8).
_CREATE = Template([(0, BYTES, 20), (2, U64, 8), (3, U64, 8)], constants=[(1, BOOL, True)])
_SEAL = Template([(0, BYTES, 20), (1, BYTES, 8)])
_ONE_ID = Template([(0, BYTES, 20)])
_GET_ONE = Template([(0, BYTES_VECTOR, 20), (1, I64, 8)])


def create(object_id: bytes, data_size: int, metadata_size: int) -> bytes:
    """Always evict_if_full, as pyarrow's client (§3.2)."""
    return _CREATE.fill(object_id, data_size, metadata_size)


def create_and_seal(object_id: bytes, data, metadata, digest: bytes) -> bytes:
    return encode_table([(0, BYTES, object_id), (1, BOOL, True), (2, BYTES, data),
                         (3, BYTES, metadata), (4, BYTES, digest)])


def seal(object_id: bytes, digest: bytes) -> bytes:
    return _SEAL.fill(object_id, digest)


def one_id(object_id: bytes) -> bytes:
    """Abort, Release and Contains requests: a table with just the object id."""
    return _ONE_ID.fill(object_id)


def get(object_ids: list, timeout_ms: int) -> bytes:
    if len(object_ids) == 1:
        return _GET_ONE.fill(object_ids[0], timeout_ms)
    return encode_table([(0, BYTES_VECTOR, object_ids), (1, I64, timeout_ms or None)])


def delete(object_ids: list) -> bytes:
    return encode_table([(0, I32, len(object_ids)), (1, BYTES_VECTOR, object_ids)])


def evict(num_bytes: int) -> bytes:
    return encode_table([(0, U64, num_bytes)])


def set_options(client_name: bytes, quota: int) -> bytes:
    return encode_table([(0, BYTES, client_name), (1, I64, quota)])


def read_error(payload) -> int:
    """SetOptions, CreateAndSeal replies: slot 0 is the error."""
    return Table(payload).scalar(0, "i")


def read_create(payload) -> CreateReply:
    t = Table(payload)
    spec = t.struct_field(1, OBJECT_SPEC)
    return CreateReply(t.scalar(2, "i"), ObjectSpec(*spec) if spec else None,
                       t.scalar(3, "i"), t.scalar(4, "q"))


def read_seal(payload) -> tuple[bytes, int]:
    t = Table(payload)
    return t.bytes(0), t.scalar(1, "i")


def read_get(payload) -> GetReply:
    t = Table(payload)
    # object_ids (slot 0) echo the request in order (§3.6); the client relies on positions.
    return GetReply([ObjectSpec._make(s) for s in t.struct_vector(1, OBJECT_SPEC)],
                    t.scalar_vector(2, "i"), t.scalar_vector(3, "q"))


def read_contains(payload) -> bool:
    return Table(payload).scalar(1, "i") == 1


def read_capacity(payload) -> int:
    return Table(payload).scalar(0, "q")


def read_evicted(payload) -> int:
    return Table(payload).scalar(0, "Q")


def read_debug_string(payload) -> str:
    return Table(payload).bytes(0).decode("utf-8", "replace")


class ObjectInfo(NamedTuple):
    object_id: bytes
    data_size: int
    metadata_size: int
    ref_count: int
    create_time: int
    construct_duration: int
    digest: bytes
    is_deletion: bool


def _info(t: Table) -> ObjectInfo:
    return ObjectInfo(t.bytes(0), t.scalar(1, "q"), t.scalar(2, "q"), t.scalar(3, "i"),
                      t.scalar(4, "q"), t.scalar(5, "q"), t.bytes(6), bool(t.scalar(7, "?")))


def read_list(payload) -> list[ObjectInfo]:
    return [_info(t) for t in Table(payload).table_vector(0)]


def read_notification(payload) -> list[ObjectInfo]:
    """A PlasmaNotification table (§5.2): {object_info: [ObjectInfo]}."""
    return [_info(t) for t in Table(payload).table_vector(0)]
