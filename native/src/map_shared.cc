#include "map_shared.h"

#include <sys/mman.h>

#include <cerrno>

#include "errors.h"

namespace plasmapool {

void* MapShared(int fd, uint64_t length, bool readOnly, int* err) {
  int prot = readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
  void* base = mmap(nullptr, length, prot, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    *err = errno;
    return nullptr;
  }
  return base;
}

std::string MapFailureMessage(int err, uint64_t length, bool readOnly, const std::string& what) {
  switch (err) {
    case ENOMEM:
      return "cannot map " + what + ": " + FormatBytes(length) +
             " is too large for this machine (mmap: " + ErrnoText(err) +
             "); use a smaller region or free memory";
    case EACCES:
      return "cannot map " + what + (readOnly ? " read-only" : " read-write") +
             ": the descriptor was not opened for that (" + ErrnoText(err) + ")" +
             (readOnly ? "" : "; map it read-only or open it read-write");
    case ENODEV:
      return "cannot map " + what + ": its filesystem or device does not support mmap (" +
             ErrnoText(err) + ")";
    default:
      return "cannot map " + what + " (" + FormatBytes(length) + "): " + ErrnoText(err);
  }
}

}  // namespace plasmapool
