"""The client's end of the store socket: frames (plasma-protocol §1.2) and
descriptor messages (§4.1). Strictly request/response; the caller serialises use."""

from __future__ import annotations

import array
import os
import socket
import struct
import time

from . import _messages as msg
from .errors import PlasmaError, PlasmaStoreDisconnected

_HEADER = struct.Struct("<qqq")  # version (0), message type, payload length
# Default retries of Plasma's client: 80 attempts, 100 ms apart (§1.1).
DEFAULT_RETRIES = 80
RETRY_DELAY_S = 0.1
# No Plasma reply comes near this; a larger length means a corrupt stream.
MAX_PAYLOAD = 1 << 31


def open_socket(path: str, num_retries: int) -> socket.socket:
    attempts = DEFAULT_RETRIES if num_retries < 0 else max(num_retries, 1)
    last: OSError | None = None
    for attempt in range(attempts):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError as error:
            sock.close()
            last = error
            if attempt + 1 < attempts:
                time.sleep(RETRY_DELAY_S)
    raise OSError(
        f"could not connect to the Plasma store at {path!r} after {attempts} attempt(s): {last}. "
        f"Is a store running there (e.g. 'plasmapool store -s {path} -m 1GiB')?") from last


class Connection:
    """One socket to a store: send a request, read its reply, receive descriptors.

    Reads are greedy into a buffer, through recvmsg with room for descriptors, so that
    a reply usually costs one system call, and a descriptor that arrives with the reply
    bytes (the kernel ends a read right after the byte that carries one, §4.7) is kept
    for receive_fd() instead of being lost.
    """

    _BUFFER = 1 << 16
    _ANCILLARY = socket.CMSG_SPACE(4 * array.array("i").itemsize)

    def __init__(self, sock: socket.socket, path: str):
        self.sock = sock
        self.path = path
        self.closed = False
        self._buf = bytearray(self._BUFFER)
        self._start = 0
        self._end = 0
        self._fds: list[int] = []

    def _lost(self, doing: str, cause: BaseException | None = None) -> PlasmaStoreDisconnected:
        self.close()
        reason = f": {cause}" if cause else ""
        return PlasmaStoreDisconnected(
            f"the Plasma store at {self.path!r} closed the connection while this client was {doing}"
            f"{reason}; the store exited or dropped this client. Connect again with "
            f"plasmapool.connect() once a store runs there")

    def _check_open(self) -> None:
        if self.closed:
            raise PlasmaStoreDisconnected(
                f"this client is disconnected from {self.path!r}; connect again with plasmapool.connect()")

    def send(self, mtype: int, payload) -> None:
        self._check_open()
        try:
            self.sock.sendall(_HEADER.pack(0, mtype, len(payload)) + payload)
        except OSError as error:
            raise self._lost(f"sending a {msg.NAMES.get(mtype, mtype)}", error) from error

    def _fill(self, doing: str) -> None:
        """Read what is available (at least one byte) after the buffered bytes."""
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(self._buf):
            pending = self._end - self._start
            self._buf[:pending] = self._buf[self._start:self._end]
            self._start, self._end = 0, pending
        while True:
            try:
                n, ancillary, _, _ = self.sock.recvmsg_into(
                    [memoryview(self._buf)[self._end:]], self._ANCILLARY, socket.MSG_CMSG_CLOEXEC)
                break
            except InterruptedError:
                continue
            except OSError as error:
                raise self._lost(doing, error) from error
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                self._fds.extend(fds)
        if n == 0:
            raise self._lost(doing)
        self._end += n

    def _take(self, n: int, doing: str) -> bytearray:
        """The next n bytes of the stream."""
        if n <= len(self._buf):
            if self._start + n > len(self._buf):  # make room at the end
                pending = self._end - self._start
                self._buf[:pending] = self._buf[self._start:self._end]
                self._start, self._end = 0, pending
            while self._end - self._start < n:
                self._fill(doing)
            out = self._buf[self._start:self._start + n]
            self._start += n
            return out
        # Larger than the buffer: the buffered part, then exact reads (which never read
        # past this frame, so never swallow a descriptor's byte).
        out = bytearray(n)
        got = self._end - self._start
        out[:got] = self._buf[self._start:self._end]
        self._start = self._end = 0
        view = memoryview(out)
        while got < n:
            try:
                k = self.sock.recv_into(view[got:])
            except InterruptedError:
                continue
            except OSError as error:
                raise self._lost(doing, error) from error
            if k == 0:
                raise self._lost(doing)
            got += k
        return out

    def request(self, mtype: int, payload, reply_type: int):
        """Send one request and return the payload of its reply."""
        self.send(mtype, payload)
        name = msg.NAMES.get(mtype, str(mtype))
        doing = f"waiting for the reply to a {name}"
        version, rtype, length = _HEADER.unpack(self._take(_HEADER.size, doing))
        if version != 0 or not 0 <= length <= MAX_PAYLOAD:
            self.close()
            raise PlasmaError(f"the store at {self.path!r} sent a malformed frame (version {version}, "
                              f"length {length}) in reply to a {name}; the connection was closed")
        body = self._take(length, doing)
        if rtype != reply_type:
            self.close()
            raise PlasmaError(f"the store at {self.path!r} answered a {name} with message type {rtype}, "
                              f"expected {reply_type}; the connection was closed")
        return body

    def receive_fd(self) -> int:
        """One descriptor message: 1 byte plus one SCM_RIGHTS descriptor (§4.1)."""
        self._take(1, "receiving a segment descriptor")
        if not self._fds:
            self.close()
            raise PlasmaError(f"the store at {self.path!r} sent a byte without the segment descriptor "
                              f"it announced; the connection was closed")
        return self._fds.pop(0)

    def send_fd(self, fd: int) -> None:
        try:
            socket.send_fds(self.sock, [b"\0"], [fd])
        except OSError as error:
            raise self._lost("sending the notification socket", error) from error

    def close(self) -> None:
        self.closed = True
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        try:
            self.sock.close()
        except OSError:
            pass
