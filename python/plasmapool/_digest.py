"""The Plasma object digest (plasma-protocol §6), bit for bit what the C++ client
computes, so that hash() agrees with pyarrow 11 and the TypeScript client
(src/protocol/digest.ts):

- XXH64, seed 0, over data then metadata, when data is smaller than 1 MiB;
- from 1 MiB of data on, the data splits into 8 chunks of floor(floor(n/64)/8)*64
  bytes plus the remaining suffix, each hashed alone; the 9 results go as 72
  little-endian bytes into the main state, followed by the metadata.
"""

from __future__ import annotations

import os
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import xxhash

CHUNKED_DIGEST_THRESHOLD = 1 << 20
_CHUNKS = 8
_BLOCK = 64
_PARTIALS = struct.Struct("<9Q")
_DIGEST = struct.Struct("<Q")
# From this size on, the chunks are hashed on threads, as Arrow's C++ client does:
# xxhash's update() releases the GIL for large inputs (one-shot functions may not).
_PARALLEL_FROM = 8 << 20
_THREADS = min(_CHUNKS, os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _xxh64(data) -> int:
    state = xxhash.xxh64(seed=0)
    state.update(data)
    return state.intdigest()


def _hash_all(chunks: list) -> list[int]:
    global _pool
    if _THREADS < 2 or len(chunks[0]) * _CHUNKS < _PARALLEL_FROM:
        return [_xxh64(chunk) for chunk in chunks]
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="plasmapool-digest")
    return list(_pool.map(_xxh64, chunks))


def plasma_digest(data, metadata) -> bytes:
    """The 8-byte digest of an object's data and metadata (byte buffers: memoryviews of
    format "B", or uint8 numpy arrays)."""
    n = len(data)
    main = xxhash.xxh64(seed=0)
    if n >= CHUNKED_DIGEST_THRESHOLD:
        chunk = (n // _BLOCK // _CHUNKS) * _BLOCK
        chunks = [data[i * chunk:(i + 1) * chunk] for i in range(_CHUNKS)] + [data[_CHUNKS * chunk:]]
        main.update(_PARTIALS.pack(*_hash_all(chunks)))
    else:
        main.update(data)
    main.update(metadata)
    return _DIGEST.pack(main.intdigest())
