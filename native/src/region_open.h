// Creating and attaching regions: the system calls and the checks, without any JS.
//
// Failures come back as {code, message}; the message names the problem and the fix, because the
// person reading it is usually starting a store and needs to know what to change.
#pragma once

#include <cstdint>
#include <string>

#include "region_header.h"

namespace plasmapool {

struct RegionFailure {
  std::string code;  // errno name or ERR_* code
  std::string message;
};

struct RegionCreateParams {
  std::string path;
  std::string nodeName;
  uint64_t capacity = 0;
  bool hugepages = false;
  bool prefault = true;
  bool overwrite = false;
  uint32_t mode = 0600;
  // Slots of the crash-recovery index (layout v2); 0 writes a v1 region without an index.
  uint64_t indexSlots = 0;
};

struct RegionAttachParams {
  std::string path;
  bool readOnly = false;
  bool checkUuid = false;
  // Open as the region's owner (a restarted store): read-write, with the owner's lock.
  bool owner = false;
  uint8_t expectUuid[16] = {};
};

// An open, mapped region. The caller owns fd and the mapping [base, base + mapLength).
struct RegionState {
  int fd = -1;
  int lockFd = -1;  // the owner's lock (creators and owners only); never passed to anyone
  void* base = nullptr;
  bool readOnly = false;
  RegionKind kind = RegionKind::kFile;
  RegionHeader header;  // a copy, for the accessors
};

bool CreateRegion(const RegionCreateParams& params, RegionState* state, RegionFailure* failure);
bool AttachRegion(const RegionAttachParams& params, RegionState* state, RegionFailure* failure);

const char* RegionKindName(RegionKind kind);

}  // namespace plasmapool
