"""The Plasma object digest (plasma-protocol §6), bit for bit what the C++ client
computes, so that hash() agrees with pyarrow 11 and the TypeScript client
(src/protocol/digest.ts):

- XXH64, seed 0, over data then metadata, when data is smaller than 1 MiB;
- from 1 MiB of data on, the data splits into 8 chunks of floor(floor(n/64)/8)*64
  bytes plus the remaining suffix, each hashed alone; the 9 results go as 72
  little-endian bytes into the main state, followed by the metadata.
"""

from __future__ import annotations

import struct

import xxhash

CHUNKED_DIGEST_THRESHOLD = 1 << 20
_CHUNKS = 8
_BLOCK = 64
_PARTIALS = struct.Struct("<9Q")
_DIGEST = struct.Struct("<Q")


def plasma_digest(data, metadata) -> bytes:
    """The 8-byte digest of an object's data and metadata (byte buffers: memoryviews of
    format "B", or uint8 numpy arrays)."""
    n = len(data)
    main = xxhash.xxh64(seed=0)
    if n >= CHUNKED_DIGEST_THRESHOLD:
        chunk = (n // _BLOCK // _CHUNKS) * _BLOCK
        parts = [xxhash.xxh64_intdigest(data[i * chunk:(i + 1) * chunk]) for i in range(_CHUNKS)]
        parts.append(xxhash.xxh64_intdigest(data[_CHUNKS * chunk:]))
        main.update(_PARTIALS.pack(*parts))
    else:
        main.update(data)
    main.update(metadata)
    return _DIGEST.pack(main.intdigest())
