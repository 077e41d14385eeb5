// The Plasma object digest (docs/protocol.md §6), computed natively: XXH64 with seed 0 over data
// then metadata below 1 MiB of data; from 1 MiB on, the data's 8 equal 64-byte-multiple chunks
// and the remaining suffix are hashed separately and the main XXH64 state takes their 9
// little-endian results, then the metadata. The 9 pieces are independent, so large objects are
// hashed on several threads; the result does not depend on how many.
//
// Two ways to compute it:
// - plasmaDigest(data, metadata, out): one pass over bytes already written (at seal);
// - a digest writer (digestWriter, digestCopy, digestFinish): the client copies the data into the
//   object through it, in order: each 128 KiB step of the source is hashed (which brings it into
//   cache) and then copied from cache with streaming stores, so the object is read by nobody and
//   sealing costs no second pass over it. Steps in different chunks are copied and hashed on
//   different threads.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace plasmapool {

// The digest as a u64 (its little-endian bytes are the wire form). `threads` is the most threads
// to use for the chunked layout (1 = the calling thread only).
uint64_t PlasmaDigest(const uint8_t* data, size_t dataSize, const uint8_t* metadata, size_t metadataSize,
                      unsigned threads);

// JS: plasmaDigest(data: ArrayBufferView, metadata: ArrayBufferView, out: Uint8Array(8)):
// writes the 8 digest bytes into `out`.
Napi::Value PlasmaDigestJs(const Napi::CallbackInfo& info);
// JS: digestWriter(dataSize): an opaque writer for `dataSize` bytes of data, written in order.
Napi::Value DigestWriterJs(const Napi::CallbackInfo& info);
// JS: digestCopy(writer, target, source): copies source into target (same length: the object's
// next bytes of data) and hashes them. Returns the bytes of data written so far.
Napi::Value DigestCopyJs(const Napi::CallbackInfo& info);
// JS: digestFinish(writer, metadata, out): once every byte of data went through digestCopy,
// writes the digest of data then metadata into `out` (8 bytes).
Napi::Value DigestFinishJs(const Napi::CallbackInfo& info);

}  // namespace plasmapool
