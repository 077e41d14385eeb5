#include "digest.h"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "errors.h"
#include "js_args.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define XXH_INLINE_ALL 1
#define XXH_NAMESPACE plasmapool_
#include "../vendor/xxhash/xxhash.h"

namespace plasmapool {

namespace {

constexpr uint64_t kSeed = 0;
// The C++ client's kBytesInMB: data of at least this size uses the chunked layout.
constexpr size_t kChunkedFrom = size_t{1} << 20;
// The C++ client's kHashingConcurrency: the number of equal chunks (plus the suffix).
constexpr size_t kChunks = 8;
constexpr size_t kPieces = kChunks + 1;
// Chunks are whole multiples of this many bytes.
constexpr size_t kBlock = 64;
// A helper thread costs tens of microseconds to start: only worth it for this much work each.
constexpr size_t kBytesPerThread = size_t{4} << 20;
// Copy then hash this much at a time, so that the hash reads what the copy left in cache.
constexpr size_t kCopyStep = size_t{128} << 10;

unsigned HardwareThreads() {
  static const unsigned threads = [] {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<unsigned>(std::min<long>(online, kChunks)) : 1u;
  }();
  return threads;
}

// Where the pieces of the chunked layout start: piece i is [bounds[i], bounds[i + 1]).
void PieceBounds(size_t dataSize, size_t bounds[kPieces + 1]) {
  size_t chunk = dataSize / kBlock / kChunks * kBlock;
  for (size_t i = 0; i < kPieces; i++) bounds[i] = i * chunk;
  bounds[kPieces] = dataSize;
}

// Runs `job(i)` for i in [0, count) on up to `threads` threads (the caller's included); each
// index runs exactly once. A helper that cannot start leaves its share to the others.
template <typename Job>
void RunParallel(size_t count, size_t threads, Job& job) {
  struct Shared {
    Job* job;
    size_t count;
    std::atomic<size_t> next{0};
    void Run() {
      for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) (*job)(i);
    }
    static void* Start(void* self) {
      static_cast<Shared*>(self)->Run();
      return nullptr;
    }
  } shared;
  shared.job = &job;
  shared.count = count;
  pthread_t helpers[kPieces];
  size_t started = 0;
  size_t wanted = std::min({threads, count, kPieces});
  for (; started + 1 < wanted; started++) {
    if (pthread_create(&helpers[started], nullptr, &Shared::Start, &shared) != 0) break;
  }
  shared.Run();
  for (size_t i = 0; i < started; i++) pthread_join(helpers[i], nullptr);
}

size_t ThreadsFor(size_t bytes) { return std::min<size_t>(HardwareThreads(), std::max<size_t>(1, bytes / kBytesPerThread)); }

uint64_t Combine(const uint64_t partials[kPieces], const uint8_t* metadata, size_t metadataSize) {
  uint8_t bytes[kPieces * 8];
  for (size_t i = 0; i < kPieces; i++) {
    for (size_t b = 0; b < 8; b++) bytes[8 * i + b] = static_cast<uint8_t>(partials[i] >> (8 * b));
  }
  XXH64_state_t state;
  XXH64_reset(&state, kSeed);
  XXH64_update(&state, bytes, sizeof(bytes));
  if (metadataSize > 0) XXH64_update(&state, metadata, metadataSize);
  return XXH64_digest(&state);
}

// Copies with stores that bypass the cache where the CPU has them: the target is written once and
// not read again here (the hash reads the source, which this step has just brought into cache), so
// caching it would only cost a read of every target line before it is overwritten.
void CopyStreaming(uint8_t* into, const uint8_t* from, size_t length) {
#if defined(__SSE2__)
  size_t head = (16 - (reinterpret_cast<uintptr_t>(into) & 15)) & 15;
  bool overlap = into < from + length && from < into + length;
  if (length < head + 64 || overlap) {
    memmove(into, from, length);
    return;
  }
  memcpy(into, from, head);
  size_t at = head;
  for (; at + 64 <= length; at += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + at));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + at + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + at + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + at + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(into + at), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(into + at + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(into + at + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(into + at + 48), d);
  }
  memcpy(into + at, from + at, length - at);
  _mm_sfence();
#else
  memmove(into, from, length);
#endif
}

void WriteDigest(uint64_t digest, uint8_t* out) {
  for (size_t b = 0; b < 8; b++) out[b] = static_cast<uint8_t>(digest >> (8 * b));
}

// The bytes of an ArrayBuffer view; throws a TypeError naming `what` otherwise.
bool BytesOf(Napi::Env env, const Napi::Value& value, const std::string& what, uint8_t** bytes, size_t* length) {
  if (value.IsTypedArray()) {
    Napi::TypedArray array = value.As<Napi::TypedArray>();
    *bytes = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
    *length = array.ByteLength();
    return true;
  }
  if (value.IsDataView()) {
    Napi::DataView view = value.As<Napi::DataView>();
    *bytes = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
    *length = view.ByteLength();
    return true;
  }
  ThrowTypeError(env, what + " must be a Uint8Array (or another ArrayBuffer view)");
  return false;
}

bool DigestOut(Napi::Env env, const Napi::Value& value, const char* fn, uint8_t** out) {
  size_t length = 0;
  if (!BytesOf(env, value, std::string(fn) + ": out", out, &length)) return false;
  if (length != 8) {
    ThrowRangeError(env, std::string(fn) + ": out must be exactly 8 bytes, got " + std::to_string(length));
    return false;
  }
  return true;
}

// The state of a digest computed while the data is written, in order.
struct Writer {
  size_t dataSize = 0;
  size_t written = 0;
  bool chunked = false;
  size_t bounds[kPieces + 1] = {};
  // chunked: one state per piece; otherwise states[0] takes data then metadata.
  XXH64_state_t states[kPieces];
};

void FreeWriter(Napi::Env /*env*/, Writer* writer) { delete writer; }

Writer* WriterOf(Napi::Env env, const Napi::Value& value, const char* fn) {
  if (!value.IsExternal()) {
    ThrowTypeError(env, std::string(fn) + ": the first argument must be a digestWriter()");
    return nullptr;
  }
  return value.As<Napi::External<Writer>>().Data();
}

}  // namespace

uint64_t PlasmaDigest(const uint8_t* data, size_t dataSize, const uint8_t* metadata, size_t metadataSize,
                      unsigned threads) {
  if (dataSize < kChunkedFrom) {
    if (metadataSize == 0) return XXH64(data, dataSize, kSeed);
    XXH64_state_t state;
    XXH64_reset(&state, kSeed);
    XXH64_update(&state, data, dataSize);
    XXH64_update(&state, metadata, metadataSize);
    return XXH64_digest(&state);
  }
  size_t bounds[kPieces + 1];
  PieceBounds(dataSize, bounds);
  uint64_t partials[kPieces];
  auto job = [&](size_t i) { partials[i] = XXH64(data + bounds[i], bounds[i + 1] - bounds[i], kSeed); };
  RunParallel(kPieces, std::min<size_t>(threads, ThreadsFor(dataSize)), job);
  return Combine(partials, metadata, metadataSize);
}

Napi::Value PlasmaDigestJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *data = nullptr, *metadata = nullptr, *out = nullptr;
  size_t dataSize = 0, metadataSize = 0;
  if (!BytesOf(env, info[0], "plasmaDigest(): data", &data, &dataSize) ||
      !BytesOf(env, info[1], "plasmaDigest(): metadata", &metadata, &metadataSize) ||
      !DigestOut(env, info[2], "plasmaDigest()", &out)) {
    return Napi::Value();
  }
  WriteDigest(PlasmaDigest(data, dataSize, metadata, metadataSize, HardwareThreads()), out);
  return env.Undefined();
}

Napi::Value DigestWriterJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t dataSize = 0;
  if (!ToSize(env, info[0], "dataSize", &dataSize)) return Napi::Value();
  auto* writer = new Writer();
  writer->dataSize = dataSize;
  writer->chunked = dataSize >= kChunkedFrom;
  PieceBounds(dataSize, writer->bounds);
  for (auto& state : writer->states) XXH64_reset(&state, kSeed);
  return Napi::External<Writer>::New(env, writer, FreeWriter);
}

Napi::Value DigestCopyJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Writer* writer = WriterOf(env, info[0], "digestCopy()");
  uint8_t *target = nullptr, *source = nullptr;
  size_t targetSize = 0, sourceSize = 0;
  if (writer == nullptr || !BytesOf(env, info[1], "digestCopy(): target", &target, &targetSize) ||
      !BytesOf(env, info[2], "digestCopy(): source", &source, &sourceSize)) {
    return Napi::Value();
  }
  if (targetSize != sourceSize) {
    ThrowRangeError(env, "digestCopy(): target has " + std::to_string(targetSize) + " bytes, source " +
                             std::to_string(sourceSize) + ": they must be the same length");
    return Napi::Value();
  }
  if (sourceSize > writer->dataSize - writer->written) {
    ThrowRangeError(env, "digestCopy(): " + std::to_string(sourceSize) + " more bytes would pass the end of the " +
                             std::to_string(writer->dataSize) + " bytes of data (" + std::to_string(writer->written) +
                             " written)");
    return Napi::Value();
  }
  size_t start = writer->written;
  size_t end = start + sourceSize;
  // The pieces this write touches, each copied and hashed in steps by one thread.
  size_t first = 0, last = 0;
  if (writer->chunked) {
    while (writer->bounds[first + 1] <= start && first + 1 < kPieces) first++;
    last = first;
    while (last + 1 < kPieces && writer->bounds[last + 1] < end) last++;
  }
  auto job = [&](size_t k) {
    size_t piece = first + k;
    size_t from = writer->chunked ? std::max(start, writer->bounds[piece]) : start;
    size_t to = writer->chunked ? std::min(end, writer->bounds[piece + 1]) : end;
    XXH64_state_t* state = &writer->states[writer->chunked ? piece : 0];
    for (size_t at = from; at < to; at += kCopyStep) {
      size_t step = std::min(kCopyStep, to - at);
      const uint8_t* from = source + (at - start);
      // Hash the source step (bringing it into cache), then copy it from cache.
      XXH64_update(state, from, step);
      CopyStreaming(target + (at - start), from, step);
    }
  };
  RunParallel(last - first + 1, ThreadsFor(sourceSize), job);
  writer->written = end;
  return SizeValue(env, writer->written);
}

Napi::Value DigestFinishJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Writer* writer = WriterOf(env, info[0], "digestFinish()");
  uint8_t *metadata = nullptr, *out = nullptr;
  size_t metadataSize = 0;
  if (writer == nullptr || !BytesOf(env, info[1], "digestFinish(): metadata", &metadata, &metadataSize) ||
      !DigestOut(env, info[2], "digestFinish()", &out)) {
    return Napi::Value();
  }
  if (writer->written != writer->dataSize) {
    ThrowError(env, "ERR_INCOMPLETE", "digestFinish(): " + std::to_string(writer->written) + " of " +
                                          std::to_string(writer->dataSize) + " bytes of data were written");
    return Napi::Value();
  }
  uint64_t digest;
  if (writer->chunked) {
    uint64_t partials[kPieces];
    for (size_t i = 0; i < kPieces; i++) partials[i] = XXH64_digest(&writer->states[i]);
    digest = Combine(partials, metadata, metadataSize);
  } else {
    // Copy: finishing must not change the writer (a second call gives the same digest).
    XXH64_state_t state = writer->states[0];
    if (metadataSize > 0) XXH64_update(&state, metadata, metadataSize);
    digest = XXH64_digest(&state);
  }
  WriteDigest(digest, out);
  return env.Undefined();
}

}  // namespace plasmapool
