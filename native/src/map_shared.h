// mmap(MAP_SHARED) from offset 0, and the message that explains a failure to a person.
#pragma once

#include <cstdint>
#include <string>

namespace plasmapool {

// Returns the base, or nullptr with *err set.
void* MapShared(int fd, uint64_t length, bool readOnly, int* err);
// "cannot map <what>: 30.00 GiB (...) is too large for this machine ..." and friends.
std::string MapFailureMessage(int err, uint64_t length, bool readOnly, const std::string& what);

}  // namespace plasmapool
