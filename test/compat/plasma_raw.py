"""A raw Plasma connection for the protocol-level tests.

It reads every byte with recvmsg and a control buffer, so file descriptors
passed after Create/Get replies (docs §4) are never lost and are collected in
the order they arrive; its typed helpers follow the C++ client's fd rules
(§4.2) exactly.
"""

from __future__ import annotations

import array
import os
import select
import socket
import struct
import time

from plasma_wire import (HEADER, SPEC, Err, Msg, ObjectInfo, View, connect_request,
                         contains_request, create_request, debug_string_request, frame,
                         get_request, list_request, notification_infos, object_info,
                         release_request, seal_request, subscribe_request)


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
