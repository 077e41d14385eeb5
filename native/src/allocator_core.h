// Best-fit allocator with coalescing over an abstract range [base, base + capacity).
//
// It never touches the memory it manages: all metadata lives in two ordered containers here, so
// a region holds only object bytes and its header, and a corrupt object cannot corrupt the
// allocator. Every operation is O(log n) in the number of blocks.
//
// Policy (tests rely on it): a request of n bytes takes a block of max(64, roundUp(n, 64)) bytes;
// it is carved from the start of the smallest free block that fits, the lowest-offset one among
// equals; freed blocks merge with free neighbours at once, so no two free blocks are adjacent.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <utility>

namespace plasmapool {

class BestFitAllocator {
 public:
  static constexpr uint64_t kAlignment = 64;
  static constexpr uint64_t kNoSpace = UINT64_MAX;

  // base must be 64-byte aligned; capacity is rounded down to a multiple of 64.
  BestFitAllocator(uint64_t base, uint64_t capacity);

  // Offset of a new block, or kNoSpace.
  uint64_t Allocate(uint64_t size);
  enum class FreeResult { kOk, kNotABlock, kAlreadyFree };
  FreeResult Free(uint64_t offset);
  // Mark [offset, offset + BlockSizeFor(size)) allocated, as Allocate would have: for rebuilding
  // the allocator from a recovered index. False unless that range lies inside one free block.
  bool Reserve(uint64_t offset, uint64_t size);
  // Size of the allocated block at offset, or 0 if there is none.
  uint64_t BlockSize(uint64_t offset) const;

  uint64_t base() const { return base_; }
  uint64_t capacity() const { return capacity_; }
  uint64_t used() const { return used_; }
  uint64_t largestFree() const { return byFreeSize_.empty() ? 0 : byFreeSize_.rbegin()->first; }
  uint64_t usedBlocks() const { return blocks_.size() - byFreeSize_.size(); }
  uint64_t freeBlocks() const { return byFreeSize_.size(); }

  // The block size a request of `size` bytes gets, or kNoSpace if it cannot be represented.
  static uint64_t BlockSizeFor(uint64_t size);

 private:
  struct Block {
    uint64_t size;
    bool free;
  };
  using BlockMap = std::map<uint64_t, Block>;  // by offset: finds neighbours for coalescing

  void AddFree(BlockMap::iterator it);
  void RemoveFree(BlockMap::iterator it);

  uint64_t base_;
  uint64_t capacity_;
  uint64_t used_ = 0;
  BlockMap blocks_;                                     // every block, free or used
  std::set<std::pair<uint64_t, uint64_t>> byFreeSize_;  // (size, offset) of free blocks: best fit
};

}  // namespace plasmapool
