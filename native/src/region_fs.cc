#include "region_fs.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace plasmapool {

namespace {

constexpr long kTmpfsMagic = 0x01021994;
constexpr long kHugetlbfsMagic = 0x958458f6;

void FillFs(const struct statfs& fs, const struct statvfs& vfs, FsInfo* out) {
  out->tmpfs = fs.f_type == kTmpfsMagic;
  out->hugetlbfs = fs.f_type == kHugetlbfsMagic;
  out->blockSize = static_cast<uint64_t>(fs.f_bsize);
  out->freeBytes = static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
}

bool ReadSysfsNumber(const std::string& file, uint64_t* out) {
  std::ifstream in(file);
  unsigned long long value = 0;
  if (!(in >> value)) return false;
  *out = value;
  return true;
}

}  // namespace

int ProbeFs(const std::string& dir, FsInfo* out) {
  struct statfs fs;
  struct statvfs vfs;
  if (statfs(dir.c_str(), &fs) != 0 || statvfs(dir.c_str(), &vfs) != 0) return errno;
  FillFs(fs, vfs, out);
  return 0;
}

int ProbeFd(int fd, FsInfo* out) {
  struct statfs fs;
  struct statvfs vfs;
  if (fstatfs(fd, &fs) != 0 || fstatvfs(fd, &vfs) != 0) return errno;
  FillFs(fs, vfs, out);
  return 0;
}

int FreeBytes(const std::string& path, uint64_t* out) {
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) != 0) return errno;
  *out = static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
  return 0;
}

uint64_t PhysicalMemoryBytes() {
  return static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

uint64_t SystemPageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

bool DaxGeometry(dev_t rdev, uint64_t* size, uint64_t* align, std::string* why) {
  std::string dir = "/sys/dev/char/" + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  if (!ReadSysfsNumber(dir + "/size", size)) {
    *why = "no " + dir + "/size, so it is not a device-dax";
    return false;
  }
  // Device-dax mappings must be aligned to the device's alignment (2 MiB unless configured);
  // older kernels do not export it.
  if (!ReadSysfsNumber(dir + "/align", align) || *align == 0) *align = uint64_t{2} << 20;
  return true;
}

int Prefault(void* base, uint64_t length, uint64_t pageSize) {
  if (madvise(base, length, MADV_POPULATE_WRITE) == 0) return 0;
  int err = errno;
  if (err != EINVAL && err != ENOSYS) return err;  // ENOMEM, EFAULT, EHWPOISON: real failures
  // Older kernel or a mapping that refuses populate: fault each page in by hand. An atomic add
  // of zero is a write that leaves whatever is there unchanged.
  auto* bytes = static_cast<uint8_t*>(base);
  for (uint64_t off = 0; off < length; off += pageSize) {
    __atomic_fetch_add(bytes + off, 0, __ATOMIC_RELAXED);
  }
  return 0;
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace plasmapool
