#include "allocator_core.h"

namespace plasmapool {

BestFitAllocator::BestFitAllocator(uint64_t base, uint64_t capacity)
    : base_(base), capacity_(capacity / kAlignment * kAlignment) {
  if (capacity_ > 0) AddFree(blocks_.emplace(base_, Block{capacity_, true}).first);
}

uint64_t BestFitAllocator::BlockSizeFor(uint64_t size) {
  if (size > UINT64_MAX - (kAlignment - 1)) return kNoSpace;
  uint64_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
  // Zero-byte objects still get a distinct block, so their offsets are distinct too.
  return rounded < kAlignment ? kAlignment : rounded;
}

void BestFitAllocator::AddFree(BlockMap::iterator it) {
  it->second.free = true;
  byFreeSize_.emplace(it->second.size, it->first);
}

void BestFitAllocator::RemoveFree(BlockMap::iterator it) {
  byFreeSize_.erase({it->second.size, it->first});
  it->second.free = false;
}

uint64_t BestFitAllocator::Allocate(uint64_t size) {
  uint64_t need = BlockSizeFor(size);
  if (need == kNoSpace) return kNoSpace;
  auto fit = byFreeSize_.lower_bound({need, 0});
  if (fit == byFreeSize_.end()) return kNoSpace;
  uint64_t offset = fit->second;
  auto it = blocks_.find(offset);
  RemoveFree(it);
  uint64_t rest = it->second.size - need;
  if (rest > 0) {
    it->second.size = need;
    // The hint is exact: the remainder sits right after this block.
    AddFree(blocks_.emplace_hint(std::next(it), offset + need, Block{rest, true}));
  }
  used_ += need;
  return offset;
}

bool BestFitAllocator::Reserve(uint64_t offset, uint64_t size) {
  uint64_t need = BlockSizeFor(size);
  if (need == kNoSpace || offset % kAlignment != 0 || offset < base_) return false;
  // The block that starts at or before offset must be free and reach past offset + need.
  auto it = blocks_.upper_bound(offset);
  if (it == blocks_.begin()) return false;
  --it;
  uint64_t start = it->first;
  if (!it->second.free || offset + need < offset || offset + need > start + it->second.size) return false;
  uint64_t before = offset - start;
  uint64_t after = start + it->second.size - (offset + need);
  RemoveFree(it);
  if (before > 0) {
    it->second.size = before;
    AddFree(it);
    it = blocks_.emplace_hint(std::next(it), offset, Block{need, false});
  } else {
    it->second = Block{need, false};
  }
  if (after > 0) AddFree(blocks_.emplace_hint(std::next(it), offset + need, Block{after, true}));
  used_ += need;
  return true;
}

BestFitAllocator::FreeResult BestFitAllocator::Free(uint64_t offset) {
  auto it = blocks_.find(offset);
  if (it == blocks_.end()) return FreeResult::kNotABlock;
  if (it->second.free) return FreeResult::kAlreadyFree;
  used_ -= it->second.size;

  // Merge with the following block, then with the preceding one.
  auto next = std::next(it);
  if (next != blocks_.end() && next->second.free) {
    RemoveFree(next);
    it->second.size += next->second.size;
    blocks_.erase(next);
  }
  if (it != blocks_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.free) {
      RemoveFree(prev);
      prev->second.size += it->second.size;
      blocks_.erase(it);
      it = prev;
    }
  }
  AddFree(it);
  return FreeResult::kOk;
}

uint64_t BestFitAllocator::BlockSize(uint64_t offset) const {
  auto it = blocks_.find(offset);
  if (it == blocks_.end() || it->second.free) return 0;
  return it->second.size;
}

}  // namespace plasmapool
