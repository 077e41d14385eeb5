"""PlasmaClient: the API of pyarrow.plasma's PlasmaClient in pure Python.

Semantics follow Arrow's C++ client (plasma-protocol §3): a local use count per
object, Get answered locally when every object is held, Release sent when the count
drops to zero, Delete of a held object deferred until its release.
"""

from __future__ import annotations

import mmap
import os
import socket
import struct
import threading
from collections import deque
from collections.abc import Sequence

import numpy as np

from . import _messages as msg
from ._connection import Connection, open_socket
from ._digest import plasma_digest
from ._pickled import PICKLE_METADATA, Pickled, is_pickled, unpickle
from ._pins import PinTable
from .errors import (
    NotPickledObject,
    ObjectNotAvailable,
    PlasmaError,
    PlasmaObjectAlreadySealed,
    PlasmaObjectExists,
    PlasmaObjectNotFound,
    PlasmaStoreFull,
)
from .object_id import ObjectID, id_bytes

# Data of put() up to this size goes inline (CreateAndSeal: one round trip).
_INLINE_PUT_BYTES = 64 * 1024
_NOTIFICATION_LENGTH = struct.Struct("=q")  # native order, no header (§5.2)


def _byte_view(value) -> memoryview:
    view = value if isinstance(value, memoryview) else memoryview(value)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


class _Held:
    """An object this client holds: where it lies and how many local uses it has."""

    __slots__ = ("spec", "sealed", "count", "delete_pending")

    def __init__(self, spec: msg.ObjectSpec, sealed: bool, count: int):
        self.spec = spec
        self.sealed = sealed
        self.count = count
        self.delete_pending = False


class PlasmaClient:
    """A connection to a Plasma store. Create with plasmapool.connect()."""

    def __init__(self, connection: Connection, capacity: int):
        self._conn = connection
        self.store_socket_name = connection.path
        self._capacity = capacity
        self._lock = threading.Lock()
        # segment id -> (mapping, writable array over it, read-only array over it)
        self._segments: dict[int, tuple[mmap.mmap, np.ndarray, np.ndarray]] = {}
        self._held: dict[bytes, _Held] = {}
        self._pins = PinTable(self._drain)
        self._notify_sock: socket.socket | None = None
        self._notifications: deque = deque()

    # --- locking and releases ------------------------------------------------------

    def _enter(self) -> None:
        self._lock.acquire()
        if self._pins.dead:
            self._process_dead()

    def _exit(self) -> None:
        self._lock.release()
        if self._pins.dead:
            self._drain()

    def _drain(self) -> None:
        """Process dead pins now if no request is in progress (else the request's end does)."""
        while self._pins.dead and self._lock.acquire(blocking=False):
            try:
                self._process_dead()
            finally:
                self._lock.release()

    def _process_dead(self) -> None:
        dead = self._pins.dead
        while dead:
            self._decref(dead.popleft())

    def _decref(self, oid: bytes) -> None:
        held = self._held.get(oid)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del self._held[oid]
        if self._conn.closed:
            return  # after disconnect, releases are ignored (§3.7)
        try:
            self._conn.send(msg.RELEASE_REQUEST, msg.one_id(oid))
            if held.delete_pending:
                self._conn.request(msg.DELETE_REQUEST, msg.delete([oid]), msg.DELETE_REPLY)
        except PlasmaError:
            pass  # the store is gone: nothing left to release

    # --- segments and buffers ----------------------------------------------------------

    def _map(self, segment: int, mmap_size: int) -> None:
        if segment in self._segments:
            return
        fd = self._conn.receive_fd()
        try:
            length = mmap_size - 8  # §4.4: the client maps mmap_size - sizeof(size_t)
            if length <= 0:
                raise PlasmaError(f"the store sent segment {segment} with mmap_size {mmap_size}; it must exceed 8")
            region = mmap.mmap(fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        writable = np.frombuffer(region, dtype=np.uint8)
        readonly = writable.view()
        readonly.flags.writeable = False  # slices of it are read-only too: get() buffers
        self._segments[segment] = (region, writable, readonly)

    def _segment(self, spec: msg.ObjectSpec, writable: bool = True) -> np.ndarray:
        try:
            return self._segments[spec.segment][1 if writable else 2]
        except KeyError:
            raise PlasmaError(f"the store referred to segment {spec.segment}, which it never sent") from None

    def _data(self, oid: bytes, held: _Held, writable: bool = False) -> memoryview:
        spec = held.spec
        held.count += 1
        return self._pins.pin(self._segment(spec, writable), spec.data_offset, spec.data_size, oid)

    def _metadata(self, oid: bytes, held: _Held) -> memoryview:
        spec = held.spec
        held.count += 1
        # §3.6: on Get the metadata follows the data; metadata_offset is ignored.
        return self._pins.pin(self._segment(spec, False), spec.data_offset + spec.data_size, spec.metadata_size, oid)

    def _metadata_bytes(self, held: _Held) -> bytes:
        spec = held.spec
        at = spec.data_offset + spec.data_size
        return self._segment(spec)[at:at + spec.metadata_size].tobytes()

    # --- create and seal -------------------------------------------------------------------

    @staticmethod
    def _raise_for(error: int, oid: bytes, doing: str) -> None:
        if error == msg.OK:
            return
        if error == msg.OBJECT_EXISTS:
            raise PlasmaObjectExists(f"object {oid.hex()} already exists in the store ({doing})")
        if error == msg.OUT_OF_MEMORY:
            raise PlasmaStoreFull(f"the store has no room for object {oid.hex()} ({doing}), even after "
                                  f"evicting every unpinned object; release or delete objects, or start "
                                  f"the store with more memory (-m)")
        if error == msg.OBJECT_NOT_FOUND:
            raise PlasmaObjectNotFound(f"the store does not know object {oid.hex()} ({doing})")
        raise PlasmaError(f"the store answered {doing} of object {oid.hex()} with error code {error}")

    def create(self, object_id, data_size: int, metadata=b"") -> memoryview:
        """Create an object and return its writable data buffer; seal() publishes it."""
        oid = id_bytes(object_id)
        if data_size < 0:
            raise ValueError(f"data_size must be >= 0, got {data_size}")
        meta = _byte_view(metadata)
        self._enter()
        try:
            reply = msg.read_create(self._conn.request(
                msg.CREATE_REQUEST, msg.create(oid, data_size, len(meta)), msg.CREATE_REPLY))
            self._raise_for(reply.error, oid, f"create of {data_size} bytes")
            self._map(reply.segment, reply.mmap_size)
            spec = reply.spec
            if (spec.data_size, spec.metadata_size) != (data_size, len(meta)):
                raise PlasmaError(f"the store created object {oid.hex()} with {spec.data_size}+{spec.metadata_size} "
                                  f"bytes, {data_size}+{len(meta)} were requested")
            held = _Held(spec, sealed=False, count=1)  # the 1 is held until seal()
            self._held[oid] = held
            if len(meta):
                at = spec.data_offset + data_size
                self._segment(spec)[at:at + len(meta)] = np.frombuffer(meta, dtype=np.uint8)
            return self._data(oid, held, writable=True)
        finally:
            self._exit()

    def seal(self, object_id) -> None:
        """Seal an object created by this client: it becomes immutable and visible."""
        oid = id_bytes(object_id)
        self._enter()
        try:
            held = self._held.get(oid)
            if held is None:
                raise PlasmaObjectNotFound(f"seal(): object {oid.hex()} was not created by this client "
                                           f"(or was aborted)")
            if held.sealed:
                raise PlasmaObjectAlreadySealed(f"seal(): object {oid.hex()} is already sealed")
            spec = held.spec
            segment = self._segment(spec)
            end = spec.data_offset + spec.data_size
            digest = plasma_digest(segment[spec.data_offset:end], segment[end:end + spec.metadata_size])
            reply_id, error = msg.read_seal(self._conn.request(
                msg.SEAL_REQUEST, msg.seal(oid, digest), msg.SEAL_REPLY))
            self._raise_for(error, oid, "seal")
            held.sealed = True
            self._decref(oid)  # the hold taken by create()
        finally:
            self._exit()

    def create_and_seal(self, object_id, data, metadata=b"") -> None:
        """Create and seal an object with this content in one round trip."""
        oid = id_bytes(object_id)
        data_view, meta = _byte_view(data), _byte_view(metadata)
        digest = plasma_digest(data_view, meta)
        self._enter()
        try:
            error = msg.read_error(self._conn.request(
                msg.CREATE_AND_SEAL_REQUEST, msg.create_and_seal(oid, data_view, meta, digest),
                msg.CREATE_AND_SEAL_REPLY))
            self._raise_for(error, oid, f"create_and_seal of {len(data_view)} bytes")
        finally:
            self._exit()

    def abort(self, object_id) -> None:
        """Abort an object this client created and has not sealed; its id can be reused.

        Release the buffer create() returned first (buffer.release(), a with block, or del)."""
        oid = id_bytes(object_id)
        self._enter()
        try:
            held = self._held.get(oid)
            if held is None or held.sealed:
                raise PlasmaObjectNotFound(f"abort(): object {oid.hex()} is not an unsealed object created "
                                           f"by this client")
            if held.count > 1:
                raise PlasmaError(f"abort(): the buffer of object {oid.hex()} is still in use; release it "
                                  f"first (buffer.release(), a with block, or del)")
            self._conn.request(msg.ABORT_REQUEST, msg.one_id(oid), msg.ABORT_REPLY)
            del self._held[oid]
        finally:
            self._exit()

    # --- get -------------------------------------------------------------------------------------

    def _get(self, oids: list[bytes], timeout_ms: int) -> list:
        """Held entries (or None) for the ids; the caller pins each result at least once."""
        held_map = self._held
        local = [held_map.get(oid) for oid in oids]
        for held in local:
            if held is None or not held.sealed:
                break
        else:
            return local  # every object is held here: no request (§3.6)
        if timeout_ms < 0:
            for oid, held in zip(oids, local):
                if held is not None and not held.sealed:
                    raise PlasmaError(f"get(): object {oid.hex()} was created by this client and is not "
                                      f"sealed, so waiting for it would never end; seal it first")
        reply = msg.read_get(self._conn.request(msg.GET_REQUEST, msg.get(oids, timeout_ms), msg.GET_REPLY))
        segments = self._segments
        for segment, size in zip(reply.segments, reply.mmap_sizes):
            if segment not in segments:
                self._map(segment, size)
        if len(reply.specs) != len(oids):
            raise PlasmaError(f"the store answered a get of {len(oids)} objects with {len(reply.specs)}")
        results = []
        for oid, spec in zip(oids, reply.specs):
            if spec.data_size == msg.NOT_AVAILABLE:
                results.append(None)
                continue
            held = held_map.get(oid)
            if held is None or not held.sealed:
                held = held_map[oid] = _Held(spec, True, 0)
            results.append(held)
        return results

    @staticmethod
    def _ids(object_ids) -> list[bytes]:
        if isinstance(object_ids, (ObjectID, bytes)) or not isinstance(object_ids, Sequence):
            raise TypeError(f"object_ids must be a list of ObjectIDs, got {type(object_ids).__name__}")
        return [id_bytes(o) for o in object_ids]

    def get_buffers(self, object_ids, timeout_ms: int = -1, with_meta: bool = False) -> list:
        """Read-only zero-copy data buffers (None where not available within the timeout).

        With with_meta=True, a list of (metadata bytes, data buffer) tuples."""
        oids = self._ids(object_ids)
        self._enter()
        try:
            result = []
            for oid, held in zip(oids, self._get(oids, timeout_ms)):
                if held is None:
                    result.append((None, None) if with_meta else None)
                    continue
                data = self._data(oid, held)
                result.append((self._metadata_bytes(held), data) if with_meta else data)
            return result
        finally:
            self._exit()

    def get_metadata(self, object_ids, timeout_ms: int = -1) -> list:
        """Read-only zero-copy metadata buffers (None where not available)."""
        oids = self._ids(object_ids)
        self._enter()
        try:
            return [None if held is None else self._metadata(oid, held)
                    for oid, held in zip(oids, self._get(oids, timeout_ms))]
        finally:
            self._exit()

    def _get_one(self, oid: bytes, timeout_ms: int) -> tuple[memoryview, bytes] | None:
        """Data buffer and metadata bytes of one object (None if not available in time)."""
        self._enter()
        try:
            [held] = self._get([oid], timeout_ms)
            return None if held is None else (self._data(oid, held), self._metadata_bytes(held))
        finally:
            self._exit()

    def hash(self, object_id) -> bytes:
        """The object's 8-byte digest, computed here as Plasma clients do (§6)."""
        oid = id_bytes(object_id)
        self._enter()
        try:
            [held] = self._get([oid], 0)
            if held is None:
                raise PlasmaObjectNotFound(f"hash(): object {oid.hex()} is not in the store (or not sealed)")
            with self._data(oid, held) as data, self._metadata(oid, held) as meta:
                return plasma_digest(data, meta)
        finally:
            self._exit()

    # --- Python objects ------------------------------------------------------------------------

    def put_raw_buffer(self, value, object_id=None, metadata=b"", memcopy_threads: int = 6) -> ObjectID:
        """Store the bytes of a buffer-protocol object; returns its ObjectID."""
        target = object_id if object_id is not None else ObjectID.from_random()
        data = _byte_view(value)
        with self.create(target, len(data), metadata) as buffer:
            buffer[:] = data
        self.seal(target)
        return target if isinstance(target, ObjectID) else ObjectID(id_bytes(target))

    def put(self, value, object_id=None, memcopy_threads: int = 6, serialization_context=None) -> ObjectID:
        """Store a Python value (pickle protocol 5, out-of-band buffers written into the object)."""
        if serialization_context is not None:
            raise TypeError("serialization_context (pyarrow's removed serialization) is not supported: "
                            "put() uses pickle protocol 5; customise with __reduce__/copyreg instead")
        target = object_id if object_id is not None else ObjectID.from_random()
        pickled = Pickled(value)
        if pickled.size <= _INLINE_PUT_BYTES:
            data = bytearray(pickled.size)
            pickled.write_into(memoryview(data))
            self.create_and_seal(target, data, PICKLE_METADATA)
        else:
            with self.create(target, pickled.size, PICKLE_METADATA) as buffer:
                pickled.write_into(buffer)
            self.seal(target)
        return target if isinstance(target, ObjectID) else ObjectID(id_bytes(target))

    def get(self, object_ids, timeout_ms: int = -1, serialization_context=None):
        """Values stored with put(); ObjectNotAvailable where not available in time.

        object_ids may be one ObjectID (returns one value) or a list."""
        if serialization_context is not None:
            raise TypeError("serialization_context is not supported: get() reads pickle protocol 5 objects")
        if not isinstance(object_ids, Sequence):
            return self.get([object_ids], timeout_ms)[0]
        results = []
        for item in self.get_buffers(object_ids, timeout_ms, with_meta=True):
            metadata, data = item
            if data is None:
                results.append(ObjectNotAvailable)
            elif is_pickled(data, metadata):
                results.append(unpickle(data))
            else:
                raise NotPickledObject(
                    f"get(): the object ({len(data)} bytes, metadata {metadata[:40]!r}) was not written by "
                    f"plasmapool's put(); read it with get_buffers() (objects from pyarrow 11's put() use "
                    f"pyarrow's removed serialization) or get_table() for Arrow tables")
        return results

    # --- other requests ----------------------------------------------------------------------

    def contains(self, object_id) -> bool:
        """Whether the object is in the store and sealed (or created by this client)."""
        oid = id_bytes(object_id)
        self._enter()
        try:
            if oid in self._held:
                return True
            return msg.read_contains(self._conn.request(msg.CONTAINS_REQUEST, msg.one_id(oid), msg.CONTAINS_REPLY))
        finally:
            self._exit()

    def delete(self, object_ids) -> None:
        """Delete objects; one this client still holds goes when its last buffer is released."""
        oids = self._ids(object_ids)
        self._enter()
        try:
            remote = []
            for oid in oids:
                held = self._held.get(oid)
                if held is not None:
                    held.delete_pending = True
                else:
                    remote.append(oid)
            if remote:
                self._conn.request(msg.DELETE_REQUEST, msg.delete(remote), msg.DELETE_REPLY)
        finally:
            self._exit()

    def list(self) -> dict:
        """Every object in the store: ObjectID -> {data_size, metadata_size, ref_count,
        create_time, construct_duration, state ("created" or "sealed"), digest}; digest
        is the 8-byte seal digest its writer sent (b"" while unsealed), an addition to
        pyarrow's fields."""
        self._enter()
        try:
            infos = msg.read_list(self._conn.request(msg.LIST_REQUEST, msg.empty(), msg.LIST_REPLY))
        finally:
            self._exit()
        return {ObjectID(info.object_id): {
            "data_size": info.data_size,
            "metadata_size": info.metadata_size,
            "ref_count": info.ref_count,
            "create_time": info.create_time,
            "construct_duration": info.construct_duration,
            "state": "sealed" if info.digest else "created",
            "digest": info.digest,
        } for info in infos}

    def evict(self, num_bytes: int) -> int:
        """Evict least recently used unpinned objects until num_bytes are freed; returns bytes freed."""
        self._enter()
        try:
            return msg.read_evicted(self._conn.request(msg.EVICT_REQUEST, msg.evict(num_bytes), msg.EVICT_REPLY))
        finally:
            self._exit()

    def store_capacity(self) -> int:
        return self._capacity

    def set_client_options(self, client_name: str, limit_output_memory: int) -> None:
        """Name this client and give it an output memory quota (§3.14)."""
        self._enter()
        try:
            error = msg.read_error(self._conn.request(
                msg.SET_OPTIONS_REQUEST, msg.set_options(client_name.encode(), limit_output_memory),
                msg.SET_OPTIONS_REPLY))
        finally:
            self._exit()
        if error == msg.OUT_OF_MEMORY:
            raise PlasmaStoreFull(f"set_client_options(): the store refused a quota of {limit_output_memory} "
                                  f"bytes (a client may set one quota, and 30% of the store must stay global)")
        if error != msg.OK:
            raise PlasmaError(f"set_client_options(): the store answered with error code {error}")

    def debug_string(self) -> str:
        self._enter()
        try:
            return msg.read_debug_string(self._conn.request(
                msg.DEBUG_STRING_REQUEST, msg.empty(), msg.DEBUG_STRING_REPLY))
        finally:
            self._exit()

    # --- notifications (§5) -------------------------------------------------------------------

    def subscribe(self) -> None:
        """Receive a notification for every seal and deletion (read with get_next_notification)."""
        self._enter()
        try:
            if self._notify_sock is not None:
                return
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                theirs.setblocking(False)
                self._conn.send(msg.SUBSCRIBE_REQUEST, msg.empty())
                self._conn.send_fd(theirs.fileno())
            except BaseException:
                mine.close()
                raise
            finally:
                theirs.close()
            self._notify_sock = mine
        finally:
            self._exit()

    def get_notification_socket(self) -> socket.socket:
        if self._notify_sock is None:
            raise PlasmaError("get_notification_socket(): call subscribe() first")
        return self._notify_sock

    @staticmethod
    def decode_notifications(buf) -> tuple[list, list, list]:
        """(object ids, data sizes, metadata sizes) of one notification frame's payload;
        deletions have sizes -1."""
        ids, data_sizes, metadata_sizes = [], [], []
        for info in msg.read_notification(bytes(buf)):
            ids.append(ObjectID(info.object_id))
            data_sizes.append(-1 if info.is_deletion else info.data_size)
            metadata_sizes.append(-1 if info.is_deletion else info.metadata_size)
        return ids, data_sizes, metadata_sizes

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = sock.recv(n - len(out))
            if not chunk:
                raise OSError("the store closed the notification socket (it exited or dropped this client)")
            out += chunk
        return bytes(out)

    def get_next_notification(self) -> tuple[ObjectID, int, int]:
        """Block until the next notification: (ObjectID, data_size, metadata_size); -1 sizes for a deletion."""
        if not self._notifications:
            sock = self.get_notification_socket()
            (length,) = _NOTIFICATION_LENGTH.unpack(self._recv_exact(sock, _NOTIFICATION_LENGTH.size))
            self._notifications.extend(zip(*self.decode_notifications(self._recv_exact(sock, length))))
        return self._notifications.popleft()

    # --- Arrow tables ----------------------------------------------------------------------------

    def put_table(self, table, object_id=None) -> ObjectID:
        """Write a pyarrow Table as an Arrow IPC stream object (one copy); see plasmapool.arrow."""
        from .arrow import put_table
        return put_table(self, table, object_id)

    def get_table(self, object_id, timeout_ms: int = -1):
        """A zero-copy pyarrow Table over the object; see plasmapool.arrow."""
        from .arrow import get_table
        return get_table(self, object_id, timeout_ms)

    # --- lifetime ---------------------------------------------------------------------------------

    def disconnect(self) -> None:
        """Close the connection; buffers already handed out stay readable."""
        self._enter()
        try:
            self._conn.close()
            if self._notify_sock is not None:
                self._notify_sock.close()
                self._notify_sock = None
        finally:
            self._exit()

    def __enter__(self) -> "PlasmaClient":
        return self

    def __exit__(self, *exc) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        state = "disconnected" if self._conn.closed else "connected"
        return f"<plasmapool.PlasmaClient {state} to {self.store_socket_name!r}>"


def connect(store_socket_name: str, num_retries: int = -1) -> PlasmaClient:
    """Connect to the Plasma store listening at store_socket_name (a Unix socket path).

    num_retries: attempts 100 ms apart; -1 means Plasma's default (80, about 8 s)."""
    path = os.fspath(store_socket_name)
    conn = Connection(open_socket(path, num_retries), path)
    try:
        capacity = msg.read_capacity(conn.request(msg.CONNECT_REQUEST, msg.empty(), msg.CONNECT_REPLY))
    except BaseException:
        conn.close()
        raise
    return PlasmaClient(conn, capacity)
