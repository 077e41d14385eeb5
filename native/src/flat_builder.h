// A FlatBuffers builder for the native data plane's replies that lays bytes out exactly as the
// flatbuffers JavaScript Builder does: back to front, the same padding and alignment, defaults
// left out, identical vtables shared. Called in the same order as src/protocol/store-codec.ts
// calls the generated code, it yields the bytes TypeScript would send for the same reply, so
// serving a request natively changes no byte on the wire (docs/object-table.md §5).
//
// Only what the replies need: scalars, uoffsets, strings, vectors, inline structs, tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace plasmapool {

class FlatBuilder {
 public:
  // Forgets the previous buffer's contents; keeps its memory for the next one.
  void Clear();

  // Bytes written so far, counted from the end: what FlatBuffers calls an offset.
  uint32_t Offset() const { return static_cast<uint32_t>(capacity() - space_); }

  // Pads so that `size` bytes written after `additional` more bytes end aligned to `size`.
  void Prep(size_t size, size_t additional);
  void Pad(size_t bytes);
  void Write32(uint32_t value);  // no alignment: after Prep
  void Write64(uint64_t value);
  void AddInt8(uint8_t value);
  void AddInt16(uint16_t value);
  void AddInt32(uint32_t value);
  void AddInt64(uint64_t value);
  void AddOffset(uint32_t offset);  // a uoffset to something already written

  // Length, bytes, NUL: a FlatBuffers string (Plasma's ids are binary strings, §1.3).
  uint32_t CreateString(const uint8_t* bytes, size_t length);
  void StartVector(size_t elementSize, size_t count, size_t alignment);
  uint32_t EndVector();

  void StartObject(int fields);
  void AddFieldInt32(int slot, int32_t value, int32_t defaultValue);
  void AddFieldInt64(int slot, int64_t value, int64_t defaultValue);
  void AddFieldOffset(int slot, uint32_t offset);  // default 0: absent
  void AddFieldStruct(int slot, uint32_t offset);  // the struct was written just before
  uint32_t EndObject();

  // Root uoffset, then the finished buffer into `out`.
  void Finish(uint32_t root, std::vector<uint8_t>* out);

 private:
  static constexpr int kMaxFields = 8;

  size_t capacity() const { return buffer_.size(); }
  void Reserve(size_t bytes);  // room for `bytes` more in front of what is written
  void Slot(int slot) { vtable_[slot] = Offset(); }
  uint16_t Read16(size_t at) const;
  void Store32(size_t at, uint32_t value);

  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(256);
  size_t space_ = 256;  // index of the first written byte; writes go in front of it
  size_t minAlign_ = 1;
  uint32_t vtable_[kMaxFields] = {};
  int fieldsInUse_ = 0;
  uint32_t objectStart_ = 0;
  uint32_t vectorCount_ = 0;
  std::vector<uint32_t> vtables_;  // offsets of the vtables written so far, for sharing
};

}  // namespace plasmapool
