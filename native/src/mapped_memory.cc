#include "mapped_memory.h"

#include <sys/mman.h>

namespace plasmapool {

void MappedMemory::Release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

MappedMemory::~MappedMemory() { munmap(base_, length_); }

}  // namespace plasmapool
