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
    """One socket to a store: send a request, read its reply, receive descriptors."""

    def __init__(self, sock: socket.socket, path: str):
        self.sock = sock
        self.path = path
        self._header = bytearray(_HEADER.size)
        self.closed = False

    def _lost(self, doing: str, cause: BaseException | None = None) -> PlasmaStoreDisconnected:
        self.closed = True
        reason = f": {cause}" if cause else ""
        return PlasmaStoreDisconnected(
            f"the Plasma store at {self.path!r} closed the connection while this client was {doing}"
            f"{reason}; the store exited or dropped this client. Connect again with "
            f"plasmapool.connect() once a store runs there")

    def _check_open(self) -> None:
        if self.closed:
            raise PlasmaStoreDisconnected(
                f"this client is disconnected from {self.path!r}; connect again with plasmapool.connect()")

    def send(self, mtype: int, payload: bytes) -> None:
        self._check_open()
        try:
            self.sock.sendall(_HEADER.pack(0, mtype, len(payload)) + payload)
        except OSError as error:
            raise self._lost(f"sending a {msg.NAMES.get(mtype, mtype)}", error) from error

    def _read_exact(self, view: memoryview, doing: str) -> None:
        got = 0
        n = len(view)
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

    def request(self, mtype: int, payload: bytes, reply_type: int):
        """Send one request and return the payload of its reply."""
        self.send(mtype, payload)
        name = msg.NAMES.get(mtype, str(mtype))
        doing = f"waiting for the reply to a {name}"
        header = self._header
        self._read_exact(memoryview(header), doing)
        version, rtype, length = _HEADER.unpack(header)
        if version != 0 or not 0 <= length <= MAX_PAYLOAD:
            self.close()
            raise PlasmaError(f"the store at {self.path!r} sent a malformed frame (version {version}, "
                              f"length {length}) in reply to a {name}; the connection was closed")
        body = bytearray(length)
        self._read_exact(memoryview(body), doing)
        if rtype != reply_type:
            self.close()
            raise PlasmaError(f"the store at {self.path!r} answered a {name} with message type {rtype}, "
                              f"expected {reply_type}; the connection was closed")
        return body

    def receive_fd(self) -> int:
        """One descriptor message: 1 byte plus one SCM_RIGHTS descriptor (§4.1)."""
        fds = array.array("i")
        space = socket.CMSG_SPACE(fds.itemsize)
        while True:
            try:
                data, ancillary, _, _ = self.sock.recvmsg(1, space)
                break
            except InterruptedError:
                continue
            except OSError as error:
                raise self._lost("receiving a segment descriptor", error) from error
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
        if not data:
            raise self._lost("receiving a segment descriptor")
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            self.close()
            raise PlasmaError(f"the store at {self.path!r} sent {len(fds)} descriptors where one segment "
                              f"descriptor was expected; the connection was closed")
        return fds[0]

    def send_fd(self, fd: int) -> None:
        try:
            socket.send_fds(self.sock, [b"\0"], [fd])
        except OSError as error:
            raise self._lost("sending the notification socket", error) from error

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
