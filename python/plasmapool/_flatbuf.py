"""A minimal FlatBuffers encoder and reader for the Plasma messages (fbs/plasma.fbs).

Plasma messages are single tables whose fields are scalars, byte strings, vectors
of byte strings or of scalars, and (in replies) a struct or a vector of structs. This
module builds and reads exactly that, by field slot, with `struct`: a few
microseconds per message, where a general builder costs tens. The layout written is
a valid FlatBuffer: root offset, vtable, table, then strings and vectors after it
(every unsigned offset points forward), each item aligned to its size from the
start of the buffer.
"""

from __future__ import annotations

import random
import struct

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")

# Field kinds of encode_table.
BOOL = "?"
I32 = "i"
I64 = "q"
U64 = "Q"
BYTES = "s"  # a FlatBuffers string holding raw bytes (§1.3: never UTF-8 decoded)
BYTES_VECTOR = "S"  # [string]

_SCALAR_SIZE = {BOOL: 1, I32: 4, I64: 8, U64: 8}


def _pad(out: bytearray, align: int) -> None:
    out.extend(bytes(-len(out) % align))


def _put_bytes(out: bytearray, value: bytes) -> int:
    _pad(out, 4)
    at = len(out)
    out += _U32.pack(len(value))
    out += value
    out.append(0)
    return at


def encode_table(fields: list) -> bytes:
    """Encode one root table. `fields` is a list of (slot, kind, value); a value of
    None leaves the field out (the reader then sees its default)."""
    present = [f for f in fields if f[2] is not None]
    nslots = max((f[0] for f in fields), default=-1) + 1
    # Inline part: the soffset to the vtable, then scalars by falling size, then
    # one uoffset per string/vector.
    inline = sorted(present, key=lambda f: -_SCALAR_SIZE.get(f[1], 4))
    slot_at = {}
    size = 4
    for slot, kind, _ in inline:
        width = _SCALAR_SIZE.get(kind, 4)
        size += -size % width
        slot_at[slot] = size
        size += width
    size += -size % 8
    vtable_len = 4 + 2 * nslots
    # Root offset, padding, vtable, table (8-aligned).
    table_at = 4 + vtable_len
    table_at += -table_at % 8
    vtable_at = table_at - vtable_len
    out = bytearray(table_at + size)
    _U32.pack_into(out, 0, table_at)
    _U16.pack_into(out, vtable_at, vtable_len)
    _U16.pack_into(out, vtable_at + 2, size)
    for slot in range(nslots):
        _U16.pack_into(out, vtable_at + 4 + 2 * slot, slot_at.get(slot, 0))
    _I32.pack_into(out, table_at, table_at - vtable_at)
    for slot, kind, value in inline:
        at = table_at + slot_at[slot]
        if kind in _SCALAR_SIZE:
            struct.pack_into("<" + kind, out, at, value)
        elif kind == BYTES:
            target = _put_bytes(out, value)
            _U32.pack_into(out, at, target - at)
        elif kind == BYTES_VECTOR:
            _pad(out, 4)
            vector_at = len(out)
            out += bytes(4 + 4 * len(value))
            _U32.pack_into(out, vector_at, len(value))
            for i, item in enumerate(value):
                target = _put_bytes(out, item)
                slot_pos = vector_at + 4 + 4 * i
                _U32.pack_into(out, slot_pos, target - slot_pos)
            _U32.pack_into(out, at, vector_at - at)
        else:
            raise ValueError(f"unknown field kind {kind!r}")
    return bytes(out)


_SCALARS = {kind: struct.Struct("<" + kind) for kind in "?bBhHiIqQ"}
_OFFSETS = [struct.Struct(f"<{n}H") for n in range(64)]


class Table:
    """Reads the fields of one table of a received buffer by slot."""

    __slots__ = ("buf", "pos", "_offsets")

    def __init__(self, buf, pos: int | None = None):
        self.buf = buf
        if pos is None:
            pos = _U32.unpack_from(buf, 0)[0]
        self.pos = pos
        vtable = pos - _I32.unpack_from(buf, pos)[0]
        count = (_U16.unpack_from(buf, vtable)[0] - 4) // 2
        if not 0 <= count < len(_OFFSETS):
            raise ValueError(f"malformed flatbuffer: a vtable of {count} fields")
        self._offsets = _OFFSETS[count].unpack_from(buf, vtable + 4)

    def _field(self, slot: int) -> int:
        offsets = self._offsets
        if slot >= len(offsets):
            return 0
        offset = offsets[slot]
        return self.pos + offset if offset else 0

    def scalar(self, slot: int, kind: str, default=0):
        at = self._field(slot)
        return _SCALARS[kind].unpack_from(self.buf, at)[0] if at else default

    def _target(self, at: int) -> int:
        return at + _U32.unpack_from(self.buf, at)[0]

    def bytes(self, slot: int, default: bytes | None = b"") -> bytes | None:
        at = self._field(slot)
        if not at:
            return default
        target = self._target(at)
        n = _U32.unpack_from(self.buf, target)[0]
        return bytes(self.buf[target + 4:target + 4 + n])

    def _vector(self, slot: int) -> tuple[int, int]:
        at = self._field(slot)
        if not at:
            return 0, 0
        target = self._target(at)
        return target + 4, _U32.unpack_from(self.buf, target)[0]

    def bytes_vector(self, slot: int) -> list[bytes]:
        start, n = self._vector(slot)
        result = []
        for i in range(n):
            target = self._target(start + 4 * i)
            length = _U32.unpack_from(self.buf, target)[0]
            result.append(bytes(self.buf[target + 4:target + 4 + length]))
        return result

    def scalar_vector(self, slot: int, kind: str) -> list:
        start, n = self._vector(slot)
        if n == 1:
            return [_SCALARS[kind].unpack_from(self.buf, start)[0]]
        return list(struct.unpack_from(f"<{n}{kind}", self.buf, start)) if n else []

    def struct_vector(self, slot: int, layout: struct.Struct) -> list[tuple]:
        start, n = self._vector(slot)
        if n == 1:
            return [layout.unpack_from(self.buf, start)]
        return [layout.unpack_from(self.buf, start + i * layout.size) for i in range(n)]

    def struct_field(self, slot: int, layout: struct.Struct) -> tuple | None:
        at = self._field(slot)
        return layout.unpack_from(self.buf, at) if at else None

    def table_vector(self, slot: int) -> list["Table"]:
        start, n = self._vector(slot)
        return [Table(self.buf, self._target(start + 4 * i)) for i in range(n)]


class Template:
    """A message whose layout never changes, encoded once: only the values are patched.

    Built by encoding the fields with unique marker values and finding each marker in
    the output; fill() copies the encoding and writes the real values in their place.
    `fields` are (slot, kind, size) of fixed-width values: scalars, byte strings of a
    fixed length, or a vector of exactly one such string; `constants` are (slot, kind,
    value) fields that never change.
    """

    def __init__(self, fields: list, constants: list = ()):
        markers = []
        for i, (slot, kind, size) in enumerate(fields):
            if kind in (BYTES, BYTES_VECTOR):
                markers.append(random.Random(1000 + i).randbytes(size))
            elif kind in (I64, U64):
                markers.append(0x5A5A000000000000 + 0x0101010101 * (i + 1))
            else:
                raise ValueError(f"templates take byte strings and 64-bit scalars, not {kind!r}")
        encoded_fields = [(slot, kind, [m] if kind == BYTES_VECTOR else m)
                          for (slot, kind, _), m in zip(fields, markers)]
        self._encoded = encode_table(encoded_fields + list(constants))
        self._patches = []
        for (slot, kind, size), marker in zip(fields, markers):
            fmt = None if kind in (BYTES, BYTES_VECTOR) else struct.Struct("<" + kind)
            needle = marker if fmt is None else fmt.pack(marker)
            at = self._encoded.find(needle)
            if at < 0 or self._encoded.find(needle, at + 1) >= 0:
                raise AssertionError(f"template marker of slot {slot} not unique")
            self._patches.append((at, fmt, size))

    def fill(self, *values) -> bytearray:
        out = bytearray(self._encoded)
        for (at, fmt, size), value in zip(self._patches, values):
            if fmt is None:
                if len(value) != size:
                    raise ValueError(f"template field needs {size} bytes, got {len(value)}")
                out[at:at + size] = value
            else:
                fmt.pack_into(out, at, value)
        return out
