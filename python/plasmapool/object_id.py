"""ObjectID: the 20 raw bytes that name a Plasma object (plasma-protocol §6)."""

from __future__ import annotations

import os

ID_SIZE = 20


class ObjectID:
    """An object id: exactly 20 bytes, as pyarrow.plasma.ObjectID."""

    __slots__ = ("_id", "__weakref__")

    def __init__(self, object_id: bytes):
        if not isinstance(object_id, bytes) or len(object_id) != ID_SIZE:
            raise ValueError(f"Object ID must be {ID_SIZE} bytes, is {object_id!r}")
        self._id = object_id

    @staticmethod
    def from_random() -> "ObjectID":
        return ObjectID(os.urandom(ID_SIZE))

    @staticmethod
    def from_hex(text: str) -> "ObjectID":
        return ObjectID(bytes.fromhex(text))

    def binary(self) -> bytes:
        return self._id

    def hex(self) -> str:
        return self._id.hex()

    def __eq__(self, other) -> bool:
        return isinstance(other, ObjectID) and other._id == self._id

    def __hash__(self) -> int:
        return hash(self._id)

    def __repr__(self) -> str:
        return f"ObjectID({self._id.hex()})"

    def __reduce__(self):
        return (ObjectID, (self._id,))


def id_bytes(object_id) -> bytes:
    """The 20 bytes of an ObjectID (or of anything with .binary(), e.g. pyarrow's)."""
    if isinstance(object_id, ObjectID):
        return object_id._id
    binary = getattr(object_id, "binary", None)
    if binary is not None:
        raw = binary()
        if isinstance(raw, bytes) and len(raw) == ID_SIZE:
            return raw
    raise TypeError(f"expected a plasmapool.ObjectID, got {type(object_id).__name__}: {object_id!r}")
