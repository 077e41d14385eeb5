"""Zero-copy buffers that keep their object referenced (pinned) while they live.

Every buffer this client hands out is a memoryview whose exporter is a fresh numpy
view of the mapped segment (a "pin"). Whatever keeps the memoryview alive (a slice
of it, numpy.frombuffer, pyarrow.py_buffer, a Table over it) keeps the pin alive;
when the memoryview is released (release(), a with block, or garbage collection)
and nothing else refers to the pin, a weak-reference callback reports it dead and
the client drops one local reference to the object, releasing it in the store at
zero (plasma-protocol §3.7).
"""

from __future__ import annotations

import weakref
from collections import deque
from typing import Callable

import numpy as np


class PinTable:
    """Pins of one client: creates them, and queues the objects of dead ones.

    Callbacks may run at any point (garbage collection in the middle of a request,
    or on another thread), so a dead pin is only queued here; the client drains the
    queue when it holds its lock.
    """

    def __init__(self, on_dead: Callable[[], None]):
        self._refs: dict[int, tuple[weakref.ref, bytes]] = {}
        self.dead: deque[bytes] = deque()
        self._on_dead = on_dead

    def pin(self, segment: np.ndarray, offset: int, size: int, object_id: bytes) -> memoryview:
        """A buffer of segment[offset:offset + size]; read-only if the segment array is."""
        view = segment[offset:offset + size]
        ref = weakref.ref(view, self._died)
        self._refs[id(ref)] = (ref, object_id)
        return memoryview(view)

    def _died(self, ref: weakref.ref) -> None:
        entry = self._refs.pop(id(ref), None)
        if entry is not None:
            self.dead.append(entry[1])
            self._on_dead()

    def __len__(self) -> int:
        return len(self._refs)
