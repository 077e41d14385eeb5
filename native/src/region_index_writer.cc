#include "region_index_writer.h"

#include <atomic>
#include <cstring>

namespace plasmapool {

namespace {

constexpr uint32_t kSealed = 0x4c414553;  // 'SEAL' in little-endian ASCII

struct CrcTable {
  uint32_t entries[256];
  CrcTable() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      entries[i] = c;
    }
  }
};

const CrcTable kCrcTable;

}  // namespace

uint32_t Crc32(const uint8_t* data, size_t length) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < length; i++) c = kCrcTable.entries[(c ^ data[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void RegionIndexWriter::Attach(uint8_t* base, uint32_t slots, std::vector<uint32_t> freeSlots) {
  base_ = base;
  slots_ = slots;
  free_ = std::move(freeSlots);
}

uint32_t RegionIndexWriter::Add(const uint8_t* id, uint64_t offset, uint64_t dataSize, uint64_t metadataSize,
                                const uint8_t* digest, uint32_t createTime) {
  if (base_ == nullptr || free_.empty()) return kNoSlot;
  uint32_t slot = free_.back();
  free_.pop_back();
  // Composed aside, then copied in with its CRC: a store killed half-way leaves a record whose
  // CRC fails, which recovery drops.
  uint8_t record[kRecordBytes];
  memcpy(record, id, 20);
  memcpy(record + 20, &kSealed, 4);
  memcpy(record + 24, &offset, 8);
  memcpy(record + 32, &dataSize, 8);
  memcpy(record + 40, &metadataSize, 8);
  memcpy(record + 48, digest, 8);
  memcpy(record + 56, &createTime, 4);
  uint32_t crc = Crc32(record, 60);
  memcpy(record + 60, &crc, 4);
  memcpy(base_ + size_t{slot} * kRecordBytes, record, kRecordBytes);
  return slot;
}

void RegionIndexWriter::Release(uint32_t slot) {
  if (base_ == nullptr || slot >= slots_) return;
  uint8_t* at = base_ + size_t{slot} * kRecordBytes;
  // One aligned store: the record is dead from here on, whatever happens next.
  reinterpret_cast<std::atomic<uint32_t>*>(at + 20)->store(0, std::memory_order_release);
  memset(at, 0, kRecordBytes);
  free_.push_back(slot);
}

}  // namespace plasmapool
