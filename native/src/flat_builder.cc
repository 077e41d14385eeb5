#include "flat_builder.h"

#include <cstring>

namespace plasmapool {

void FlatBuilder::Clear() {
  space_ = capacity();
  minAlign_ = 1;
  fieldsInUse_ = 0;
  objectStart_ = 0;
  vectorCount_ = 0;
  vtables_.clear();
}

void FlatBuilder::Reserve(size_t bytes) {
  if (space_ >= bytes) return;
  size_t used = capacity() - space_;
  size_t grown = capacity() * 2;
  while (grown - used < bytes) grown *= 2;
  std::vector<uint8_t> next(grown);
  memcpy(next.data() + grown - used, buffer_.data() + space_, used);
  buffer_.swap(next);
  space_ = grown - used;
}

void FlatBuilder::Prep(size_t size, size_t additional) {
  if (size > minAlign_) minAlign_ = size;
  // The padding that makes (bytes written + additional) a multiple of size.
  size_t padding = (~(Offset() + additional) + 1) & (size - 1);
  Reserve(padding + size + additional);
  Pad(padding);
}

void FlatBuilder::Pad(size_t bytes) {
  Reserve(bytes);
  space_ -= bytes;
  memset(buffer_.data() + space_, 0, bytes);
}

void FlatBuilder::Write32(uint32_t value) {
  Reserve(4);
  space_ -= 4;
  memcpy(buffer_.data() + space_, &value, 4);
}

void FlatBuilder::Write64(uint64_t value) {
  Reserve(8);
  space_ -= 8;
  memcpy(buffer_.data() + space_, &value, 8);
}

void FlatBuilder::AddInt8(uint8_t value) {
  Prep(1, 0);
  buffer_[--space_] = value;
}

void FlatBuilder::AddInt16(uint16_t value) {
  Prep(2, 0);
  space_ -= 2;
  memcpy(buffer_.data() + space_, &value, 2);
}

void FlatBuilder::AddInt32(uint32_t value) {
  Prep(4, 0);
  Write32(value);
}

void FlatBuilder::AddInt64(uint64_t value) {
  Prep(8, 0);
  Write64(value);
}

void FlatBuilder::AddOffset(uint32_t offset) {
  Prep(4, 0);
  Write32(Offset() - offset + 4);
}

uint32_t FlatBuilder::CreateString(const uint8_t* bytes, size_t length) {
  AddInt8(0);
  StartVector(1, length, 1);
  space_ -= length;
  memcpy(buffer_.data() + space_, bytes, length);
  return EndVector();
}

void FlatBuilder::StartVector(size_t elementSize, size_t count, size_t alignment) {
  vectorCount_ = static_cast<uint32_t>(count);
  Prep(4, elementSize * count);
  Prep(alignment, elementSize * count);
}

uint32_t FlatBuilder::EndVector() {
  Write32(vectorCount_);
  return Offset();
}

void FlatBuilder::StartObject(int fields) {
  fieldsInUse_ = fields;
  for (int i = 0; i < fields; i++) vtable_[i] = 0;
  objectStart_ = Offset();
}

void FlatBuilder::AddFieldInt32(int slot, int32_t value, int32_t defaultValue) {
  if (value == defaultValue) return;
  AddInt32(static_cast<uint32_t>(value));
  Slot(slot);
}

void FlatBuilder::AddFieldInt64(int slot, int64_t value, int64_t defaultValue) {
  if (value == defaultValue) return;
  AddInt64(static_cast<uint64_t>(value));
  Slot(slot);
}

void FlatBuilder::AddFieldOffset(int slot, uint32_t offset) {
  if (offset == 0) return;
  AddOffset(offset);
  Slot(slot);
}

void FlatBuilder::AddFieldStruct(int slot, uint32_t offset) {
  if (offset != 0) Slot(slot);
}

uint16_t FlatBuilder::Read16(size_t at) const {
  uint16_t v;
  memcpy(&v, buffer_.data() + at, 2);
  return v;
}

void FlatBuilder::Store32(size_t at, uint32_t value) { memcpy(buffer_.data() + at, &value, 4); }

uint32_t FlatBuilder::EndObject() {
  AddInt32(0);  // the soffset to the vtable, set below
  uint32_t table = Offset();
  int last = fieldsInUse_ - 1;
  while (last >= 0 && vtable_[last] == 0) last--;  // trailing absent fields are left out
  int used = last + 1;
  for (int i = last; i >= 0; i--) AddInt16(static_cast<uint16_t>(vtable_[i] != 0 ? table - vtable_[i] : 0));
  AddInt16(static_cast<uint16_t>(table - objectStart_));
  uint16_t length = static_cast<uint16_t>((used + 2) * 2);
  AddInt16(length);

  // An identical vtable written before is shared, and this one dropped.
  uint32_t existing = 0;
  for (uint32_t candidate : vtables_) {
    size_t at = capacity() - candidate;
    if (Read16(at) == length && memcmp(buffer_.data() + at + 2, buffer_.data() + space_ + 2, length - 2) == 0) {
      existing = candidate;
      break;
    }
  }
  if (existing != 0) {
    space_ = capacity() - table;
    Store32(space_, existing - table);
  } else {
    vtables_.push_back(Offset());
    Store32(capacity() - table, Offset() - table);
  }
  return table;
}

void FlatBuilder::Finish(uint32_t root, std::vector<uint8_t>* out) {
  Prep(minAlign_, 4);
  AddOffset(root);
  out->assign(buffer_.begin() + static_cast<std::ptrdiff_t>(space_), buffer_.end());
}

}  // namespace plasmapool
