// NativeMapping: a MAP_SHARED mapping handed to JS as zero-copy windows.
//
// One external ArrayBuffer may not exceed 4 GiB (node-addon-api 8.9.2 double-frees above it, and
// Node 20's Buffer limit is 2^32), so a mapping is exposed as windows: window k starts at
// k * 2 GiB and spans min(4 GiB - 64 KiB, rest). Any range of up to 2 GiB - 64 KiB therefore lies
// inside one cached window. Window starts are page aligned, so an offset that is 64-byte aligned
// in the file is 64-byte aligned in the ArrayBuffer (Arrow JS copies unless it is 8-aligned).
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "mapped_memory.h"

namespace plasmapool {

constexpr uint64_t kWindowStride = uint64_t{2} << 30;
constexpr uint64_t kWindowSpanMax = (uint64_t{4} << 30) - (uint64_t{64} << 10);

// mmap(MAP_SHARED) of the first `length` bytes of fd. On failure throws (code = errno name) with a
// message naming `what` and returns nullptr.
void* MapSharedOrThrow(Napi::Env env, int fd, uint64_t length, bool readOnly, const std::string& what);

class Mapping : public Napi::ObjectWrap<Mapping> {
 public:
  static Napi::Function Init(Napi::Env env);
  // Wraps memory, taking over its owner reference.
  static Napi::Object NewInstance(Napi::Env env, MappedMemory* memory, bool readOnly);
  // JS: mapFd(fd, length, readOnly).
  static Napi::Value MapFd(const Napi::CallbackInfo& info);
  // JS: addressOf(arrayBufferOrView).
  static Napi::Value AddressOf(const Napi::CallbackInfo& info);
  // JS: detachArrayBuffer(arrayBuffer).
  static Napi::Value DetachArrayBuffer(const Napi::CallbackInfo& info);

  explicit Mapping(const Napi::CallbackInfo& info);
  ~Mapping() override;

  // Drop the owner reference (idempotent). Memory stays mapped while windows are reachable.
  void CloseOwner();
  uint8_t* base() const { return memory_ != nullptr ? memory_->base() : nullptr; }
  uint64_t length() const { return length_; }

 private:
  Napi::Value Window(const Napi::CallbackInfo& info);
  Napi::Value Slice(const Napi::CallbackInfo& info);
  // Validates (offset, length) against the mapping; throws and returns false otherwise.
  bool CheckRange(Napi::Env env, const Napi::CallbackInfo& info, const char* what, uint64_t* offset, uint64_t* length);
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetLength(const Napi::CallbackInfo& info);
  Napi::Value GetReadOnly(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  // A new external ArrayBuffer over [start, start + span) holding one memory reference.
  Napi::Value NewWindowBuffer(Napi::Env env, uint64_t start, uint64_t span);

  MappedMemory* memory_ = nullptr;  // null once closed
  uint64_t length_ = 0;
  bool readOnly_ = false;
  // Weak references: a window the program no longer uses may be collected (releasing its
  // memory reference) and is recreated on the next request.
  std::vector<Napi::Reference<Napi::ArrayBuffer>> windows_;
};

}  // namespace plasmapool
