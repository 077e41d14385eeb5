// What a region needs to know about the place it lives in: filesystem type and free space,
// device-dax geometry from sysfs, physical memory, and pre-faulting.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace plasmapool {

struct FsInfo {
  bool tmpfs = false;
  bool hugetlbfs = false;
  uint64_t blockSize = 0;  // statfs f_bsize: the huge page size on hugetlbfs
  uint64_t freeBytes = 0;  // statvfs f_bavail * f_frsize: what an unprivileged creator may use
};

// Probe the filesystem holding `dir`. Returns 0 or an errno.
int ProbeFs(const std::string& dir, FsInfo* out);
// Same for an open descriptor.
int ProbeFd(int fd, FsInfo* out);

// Free bytes of the filesystem holding path (statvfs). Returns 0 or an errno.
int FreeBytes(const std::string& path, uint64_t* out);

uint64_t PhysicalMemoryBytes();
uint64_t SystemPageSize();

// Device-dax geometry from /sys/dev/char/MAJ:MIN/{size,align}. Returns false (with why) if the
// character device is not a device-dax.
bool DaxGeometry(dev_t rdev, uint64_t* size, uint64_t* align, std::string* why);

// Pre-fault [base, base+length) writable so later stores never take a first-touch fault
// (about 12 us per 4 KiB page otherwise). Uses MADV_POPULATE_WRITE (Linux 5.14) and falls back to
// touching one byte per page. Returns 0 or an errno (ENOMEM: memory ran out on the way).
int Prefault(void* base, uint64_t length, uint64_t pageSize);

// "/dev/shm" for "/dev/shm/x"; "." for "x".
std::string DirName(const std::string& path);

}  // namespace plasmapool
