// The crash-recovery index of a named region, written natively (docs/recovery.md): one 64-byte
// record per sealed object in the index area of the region, written before the seal is
// acknowledged and erased before the object's memory is given back. The record format is
// src/store/region-index.ts's, which reads it back at recovery:
//   0 id (20) | 20 state u32 'SEAL' | 24 offset u64 | 32 data size u64 | 40 metadata size u64 |
//   48 digest (8) | 56 create time u32 | 60 CRC-32 of bytes [0, 60)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace plasmapool {

class RegionIndexWriter {
 public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  static constexpr size_t kRecordBytes = 64;

  // The index area (`slots` records at `base`) and its free slots (used from the back).
  void Attach(uint8_t* base, uint32_t slots, std::vector<uint32_t> freeSlots);
  bool attached() const { return base_ != nullptr; }

  // Write a sealed object's record: its slot, or kNoSlot when every slot is taken.
  uint32_t Add(const uint8_t* id, uint64_t offset, uint64_t dataSize, uint64_t metadataSize,
               const uint8_t* digest, uint32_t createTime);
  // The object is going away: its record dies first (one aligned store of its state), then is cleared.
  void Release(uint32_t slot);

  size_t freeSlots() const { return free_.size(); }

 private:
  uint8_t* base_ = nullptr;
  uint32_t slots_ = 0;
  std::vector<uint32_t> free_;
};

// CRC-32 (the zlib polynomial, as node:zlib's crc32 computes it).
uint32_t Crc32(const uint8_t* data, size_t length);

}  // namespace plasmapool
