"""Plasma wire protocol by hand, for what pyarrow does not expose.

Frames (docs §1.2): int64 LE version (0), int64 LE message type, int64 LE
length, then a FlatBuffers table. Tables are built and read by field slot
(docs §2.4/§2.5) with the `flatbuffers` runtime, so no generated code is
needed and malformed messages are easy to make on purpose.

A RawConnection reads every byte with recvmsg and a control buffer, so file
descriptors passed after Create/Get replies (docs §4) are never lost and are
collected in the order they arrive.
"""

from __future__ import annotations

import array
import enum
import os
import select
import socket
import struct
import time
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
        self.buf = bytearray(buf)
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


# --- a raw connection -----------------------------------------------------------------

class Closed(Exception):
    """The store closed (or reset) the connection."""


class RawConnection:
    def __init__(self, path: str, timeout: float = 10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.timeout = timeout
        self.fds: list[int] = []       # every fd received, in order
        self.segments: dict[int, int] = {}  # segment id -> fd received for it

    def close(self):
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # sending
    def send_raw(self, data: bytes):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed(str(e)) from e

    def send(self, msg_type: int, body: bytes, **kw):
        self.send_raw(frame(msg_type, body, **kw))

    def send_fd(self, fd: int):
        socket.send_fds(self.sock, [b"\0"], [fd])

    # receiving
    def _recv_exact(self, n: int, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        out = bytearray()
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"waited {timeout}s for {n - len(out)} more bytes from the store")
            self.sock.settimeout(left)
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(
                    n - len(out), socket.CMSG_SPACE(16 * array.array("i").itemsize))
            except socket.timeout:
                continue
            except (ConnectionResetError, BrokenPipeError) as e:
                raise Closed(str(e)) from e
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self.fds.extend(fds)
            if not data:
                raise Closed("EOF")
            out += data
        return bytes(out)

    def recv_frame(self, timeout: float | None = None) -> tuple[int, int, bytes]:
        timeout = self.timeout if timeout is None else timeout
        version, msg_type, length = HEADER.unpack(self._recv_exact(HEADER.size, timeout))
        assert version == 0, f"store sent protocol version {version}"
        assert 0 <= length < 1 << 31, f"store sent a frame length of {length}"
        return version, msg_type, self._recv_exact(length, timeout)

    def recv_reply(self, expected: Msg, timeout: float | None = None) -> View:
        _, msg_type, body = self.recv_frame(timeout)
        assert msg_type == expected, f"expected {expected.name}, store sent type {msg_type}"
        return View(body)

    def recv_fd(self, timeout: float | None = None) -> int:
        before = len(self.fds)
        self._recv_exact(1, self.timeout if timeout is None else timeout)
        assert len(self.fds) == before + 1, "fd-carrier byte arrived without exactly one fd (§4.1)"
        return self.fds[-1]

    def request(self, msg_type: Msg, body: bytes, reply: Msg, timeout: float | None = None) -> View:
        self.send(msg_type, body)
        return self.recv_reply(reply, timeout)

    def readable(self, timeout: float) -> bool:
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def outcome(self, timeout: float = 5.0) -> str | tuple[int, bytes]:
        """After a bad request: 'closed' if the store closed the connection,
        'open' if nothing came within the timeout, else (type, body)."""
        if not self.readable(timeout):
            return "open"
        try:
            _, msg_type, body = self.recv_frame(timeout)
        except Closed:
            return "closed"
        return msg_type, body

    # typed helpers (follow §4.2 for fds exactly like the C++ client)
    def connect(self) -> int:
        return self.request(Msg.ConnectRequest, connect_request(), Msg.ConnectReply).i64(0)

    def create(self, oid: bytes, data_size: int, metadata_size: int = 0, **kw):
        r = self.request(Msg.CreateRequest, create_request(oid, data_size, metadata_size, **kw),
                         Msg.CreateReply)
        err = r.i32(2)
        assert r.str(0) is not None and r.has(1), "CreateReply lacks object_id or plasma_object (§2.6)"
        spec = None
        if err == Err.OK:
            o = r._off(1)
            spec = SPEC.unpack_from(r.buf, r.t.Pos + o)
            store_fd, mmap_size = r.i32(3), r.i64(4)
            if store_fd not in self.segments:
                self.segments[store_fd] = self.recv_fd()
            spec = dict(segment=spec[0], data_offset=spec[1], data_size=spec[2],
                        metadata_offset=spec[3], metadata_size=spec[4], device=spec[5],
                        store_fd=store_fd, mmap_size=mmap_size)
        return err, spec

    def write_object(self, spec: dict, data: bytes, metadata: bytes = b""):
        fd = self.segments[spec["store_fd"]]
        os.pwrite(fd, data + metadata, spec["data_offset"])

    def seal(self, oid: bytes, digest: bytes = b"\0" * 8) -> int:
        r = self.request(Msg.SealRequest, seal_request(oid, digest), Msg.SealReply)
        assert r.str(0) == oid, "SealReply.object_id must echo the request (§2.6)"
        return r.i32(1)

    def get(self, oids, timeout_ms: int, timeout: float | None = None):
        r = self.request(Msg.GetRequest, get_request(oids, timeout_ms), Msg.GetReply, timeout)
        ids, specs = r.strvec(0), r.structvec(1, SPEC)
        store_fds, sizes = r.scalarvec(2, "<i"), r.scalarvec(3, "<q")
        assert None not in (ids, specs, store_fds, sizes), "GetReply lacks a required vector (§2.6)"
        assert len(store_fds) == len(sizes)
        for fd in store_fds:
            if fd not in self.segments:
                self.segments[fd] = self.recv_fd()
        return ids, specs, store_fds, sizes

    def read_object(self, spec_tuple) -> bytes:
        seg, off, size, _moff, msize, _dev = spec_tuple
        return os.pread(self.segments[seg], size + msize, off)

    def release(self, oid: bytes):
        self.send(Msg.ReleaseRequest, release_request(oid))

    def contains(self, oid: bytes) -> bool:
        r = self.request(Msg.ContainsRequest, contains_request(oid), Msg.ContainsReply)
        return r.i32(1) == 1

    def list(self) -> list[ObjectInfo]:
        r = self.request(Msg.ListRequest, list_request(), Msg.ListReply)
        return [object_info(v) for v in r.tablevec(0)]

    def debug_string(self) -> str:
        r = self.request(Msg.GetDebugStringRequest, debug_string_request(), Msg.GetDebugStringReply)
        return r.str(0).decode()

    def subscribe(self) -> socket.socket:
        """Subscribe like the C++ client (§5.1); returns our end of the pair."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.setblocking(False)
        self.send(Msg.SubscribeRequest, subscribe_request())
        self.send_fd(theirs.fileno())
        theirs.close()
        return mine


def read_notification(sock: socket.socket, timeout: float = 10.0) -> list[ObjectInfo]:
    """One notification frame: 8-byte native length, then a PlasmaNotification (§5.2)."""
    sock.settimeout(timeout)

    def exact(n):
        out = bytearray()
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise Closed("notification socket closed")
            out += chunk
        return bytes(out)

    (length,) = struct.unpack("=q", exact(8))
    assert 0 < length < 1 << 31, f"notification length {length}"
    return notification_infos(exact(length))
