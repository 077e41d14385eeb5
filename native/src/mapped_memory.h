// One mmap'd range with a reference count, unmapped when the last reference goes.
//
// References: one for the owner (a Mapping until close()), one per live window ArrayBuffer
// (dropped by its finalizer). This is what lets JS keep using a view after the owner closed the
// mapping without ever touching unmapped memory. The descriptor the range was mapped from is not
// owned here: fds are closed explicitly by their owners, never as a side effect of GC.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace plasmapool {

class MappedMemory {
 public:
  // Takes over [base, base + length) from mmap; starts with one reference.
  MappedMemory(void* base, size_t length) : base_(static_cast<uint8_t*>(base)), length_(length) {}
  MappedMemory(const MappedMemory&) = delete;
  MappedMemory& operator=(const MappedMemory&) = delete;

  uint8_t* base() const { return base_; }
  size_t length() const { return length_; }

  void AddRef() { refs_.fetch_add(1, std::memory_order_relaxed); }
  // munmap and delete on the last reference.
  void Release();

 private:
  ~MappedMemory();

  uint8_t* base_;
  size_t length_;
  // Finalizers run on the JS thread in Node 20, but an atomic costs nothing here and keeps this
  // correct if a runtime ever runs them elsewhere.
  std::atomic<int> refs_{1};
};

}  // namespace plasmapool
