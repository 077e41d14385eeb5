#include "region_open.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "errors.h"
#include "map_shared.h"
#include "region_fs.h"

namespace plasmapool {

namespace {

bool Fail(RegionFailure* failure, const std::string& code, const std::string& message);
bool FailErrno(RegionFailure* failure, int err, const std::string& message);

// The owner holds an exclusive flock on its region for its whole life (released by the kernel
// when the process dies, however it dies): how a restart, or another store's start-up sweep,
// tells a live region from a stale one, across PID namespaces too. The lock sits on a descriptor
// of its own: the region's main descriptor is passed to clients, whose mappings would keep a lock
// on it alive after the store died.
bool OpenFailure(int err, const std::string& path, const char* doing, RegionFailure* failure);
bool LockOrFail(const std::string& path, int* lockFd, RegionFailure* failure) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return OpenFailure(errno, path, "locking", failure);
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    *lockFd = fd;
    return true;
  }
  int err = errno;
  close(fd);
  if (err == EWOULDBLOCK) {
    return Fail(failure, "EBUSY",
                "region " + path + " is in use by a running store (another process holds its lock): stop that store, or choose another region");
  }
  return FailErrno(failure, err, "cannot lock region " + path + ": " + ErrnoText(err));
}

bool Fail(RegionFailure* failure, const std::string& code, const std::string& message) {
  failure->code = code;
  failure->message = message;
  return false;
}

bool FailErrno(RegionFailure* failure, int err, const std::string& message) {
  return Fail(failure, ErrnoName(err), message);
}

// Bytes between the header page and the first object: the index, rounded to the alignment.
uint64_t IndexBytes(uint64_t slots, uint64_t align) {
  uint64_t bytes = slots * kIndexRecordBytes;
  return (bytes + align - 1) / align * align;
}

bool AlignUp(uint64_t value, uint64_t align, uint64_t* out) {
  if (value > UINT64_MAX - (align - 1)) return false;
  *out = (value + align - 1) / align * align;
  return true;
}

std::string Uid() { return std::to_string(geteuid()); }

// Undoes a half-finished creation: unmaps, closes, and removes a file we created (never a device).
struct CreateGuard {
  int fd = -1;
  int lockFd = -1;
  void* base = nullptr;
  uint64_t length = 0;
  std::string unlinkPath;
  ~CreateGuard() {
    if (base != nullptr) munmap(base, length);
    if (fd >= 0) close(fd);
    if (lockFd >= 0) close(lockFd);
    if (!unlinkPath.empty()) unlink(unlinkPath.c_str());
  }
  void Release() {
    fd = -1;
    lockFd = -1;
    base = nullptr;
    unlinkPath.clear();
  }
};

void RandomBytes(uint8_t* out, size_t length) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = getrandom(out + done, length - done, 0);
    if (n > 0) done += static_cast<size_t>(n);
    else if (errno != EINTR) break;
  }
  if (done < length) {
    // getrandom exists since Linux 3.17; this only keeps the uuid random on something odder.
    FILE* f = fopen("/dev/urandom", "rb");
    if (f != nullptr) {
      done += fread(out + done, 1, length - done, f);
      fclose(f);
    }
  }
}

void FillHeader(RegionHeader* h, uint64_t mapLength, RegionKind kind, uint64_t alignment,
                const std::string& nodeName, uint64_t indexSlots, uint64_t indexBytes) {
  memset(h, 0, sizeof(*h));
  memcpy(h->magic, kRegionMagic, sizeof(h->magic));
  h->layout_version = indexSlots > 0 ? kRegionLayoutVersion : kRegionLayoutVersionNoIndex;
  h->header_size = kRegionHeaderSize;
  RandomBytes(h->uuid, sizeof(h->uuid));
  h->uuid[6] = (h->uuid[6] & 0x0f) | 0x40;  // RFC 4122 version 4
  h->uuid[8] = (h->uuid[8] & 0x3f) | 0x80;  // RFC 4122 variant
  h->data_offset = kRegionHeaderSize + indexBytes;
  h->capacity = mapLength - h->data_offset;
  h->map_length = mapLength;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  h->created_at_ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  h->kind = static_cast<uint32_t>(kind);
  h->alignment = static_cast<uint32_t>(alignment);
  memcpy(h->node_name, nodeName.data(), nodeName.size());  // checked <= 63 by the caller
  if (indexSlots > 0) {
    h->index_offset = kRegionHeaderSize;
    h->index_length = indexBytes;
    h->index_format = kIndexFormatSlots;
    h->index_slots = static_cast<uint32_t>(indexSlots);
  } else {
    h->index_offset = h->data_offset;  // v1: empty object index
  }
  h->header_checksum = HeaderChecksum(*h);
}

// Magic last: a creator that dies before this point leaves a file attach refuses.
void WriteHeader(void* base, const RegionHeader& h) {
  auto* dst = static_cast<uint8_t*>(base);
  const auto* src = reinterpret_cast<const uint8_t*>(&h);
  memcpy(dst + sizeof(h.magic), src + sizeof(h.magic), sizeof(h) - sizeof(h.magic));
  __atomic_thread_fence(__ATOMIC_RELEASE);
  memcpy(dst, h.magic, sizeof(h.magic));
  msync(base, kRegionHeaderSize, MS_SYNC);  // durable on a regular file; free on tmpfs
}

std::string NoSpaceMessage(const std::string& dir, const std::string& path, uint64_t asked, uint64_t free) {
  return "not enough space in " + dir + " for region " + path + ": asked for " + FormatBytes(asked) +
         ", only " + FormatBytes(free) + " is free; free space (remove stale regions in " + dir +
         ") or choose a smaller capacity";
}

bool PrefaultOrFail(const std::string& path, void* base, uint64_t length, uint64_t pageSize,
                    RegionFailure* failure) {
  int err = Prefault(base, length, pageSize);
  if (err == 0) return true;
  return FailErrno(failure, err,
                   "pre-faulting region " + path + " (" + FormatBytes(length) + ") failed: " + ErrnoText(err) +
                       "; the machine ran out of memory for it: choose a smaller capacity");
}

bool MapOrFail(int fd, uint64_t length, bool readOnly, RegionKind kind, const std::string& path,
               void** base, RegionFailure* failure) {
  int err = 0;
  *base = MapShared(fd, length, readOnly, &err);
  if (*base != nullptr) return true;
  if (err == ENOMEM && kind == RegionKind::kHugetlbfs) {
    return FailErrno(failure, err,
                     "cannot map region " + path + " (" + FormatBytes(length) +
                         "): not enough free huge pages; reserve more (sysctl vm.nr_hugepages) or "
                         "choose a smaller capacity");
  }
  return FailErrno(failure, err, MapFailureMessage(err, length, readOnly, "region " + path));
}

bool OpenFailure(int err, const std::string& path, const char* doing, RegionFailure* failure) {
  switch (err) {
    case EACCES:
    case EPERM:
      return FailErrno(failure, err,
                       std::string("permission denied ") + doing + " " + path + " (uid " + Uid() +
                           "): run as the user that owns it, or fix its permissions");
    case EEXIST:
      return FailErrno(failure, err,
                       path + " already exists (a region of a running store, or left over after a crash): "
                              "remove it, or create with overwrite: true to replace it");
    case EISDIR:
      return FailErrno(failure, err, path + " is a directory: give a file path such as " + path + "/region");
    default:
      return FailErrno(failure, err, std::string("cannot open ") + path + " (" + doing + "): " + ErrnoText(err));
  }
}

bool ValidateHeader(const RegionHeader& h, const std::string& path, uint64_t size,
                    const RegionAttachParams& params, RegionFailure* failure) {
  if (memcmp(h.magic, kRegionMagic, sizeof(h.magic)) != 0) {
    char hex[3 * 8 + 1] = {};
    for (int i = 0; i < 8; i++) snprintf(hex + 3 * i, 4, i < 7 ? "%02x " : "%02x", static_cast<uint8_t>(h.magic[i]));
    return Fail(failure, "ERR_BAD_MAGIC",
                path + " is not a plasmapool region: bad magic (first bytes " + hex +
                    ", expected \"PLSMPOOL\"); pass the path of a region created by a plasmapool store, "
                    "or recreate it");
  }
  if (h.layout_version != kRegionLayoutVersion && h.layout_version != kRegionLayoutVersionNoIndex) {
    return Fail(failure, "ERR_UNSUPPORTED_VERSION",
                path + " has region layout version " + std::to_string(h.layout_version) +
                    " but this build reads version " + std::to_string(kRegionLayoutVersion) +
                    ": use the plasmapool release that created it");
  }
  if (h.header_checksum != HeaderChecksum(h)) {
    return Fail(failure, "ERR_BAD_HEADER",
                path + " has a corrupt region header (checksum mismatch): recreate the region");
  }
  if (h.header_size != kRegionHeaderSize || h.data_offset < kRegionHeaderSize || h.data_offset % 64 != 0 ||
      h.capacity == 0 || h.map_length != h.data_offset + h.capacity) {
    return Fail(failure, "ERR_BAD_HEADER",
                path + " has an inconsistent region header (header " + std::to_string(h.header_size) +
                    " B, data offset " + std::to_string(h.data_offset) + ", capacity " +
                    std::to_string(h.capacity) + ", map length " + std::to_string(h.map_length) +
                    "): recreate the region");
  }
  if (h.map_length > size) {
    return Fail(failure, "ERR_BAD_HEADER",
                path + " is truncated: its header describes " + FormatBytes(h.map_length) + " but it holds " +
                    FormatBytes(size) + "; recreate the region");
  }
  if (h.layout_version == kRegionLayoutVersion &&
      (h.index_format != kIndexFormatSlots || h.index_offset != kRegionHeaderSize ||
       h.index_length < uint64_t{h.index_slots} * kIndexRecordBytes || h.index_offset + h.index_length > h.data_offset)) {
    return Fail(failure, "ERR_BAD_HEADER",
                path + " has an inconsistent object index description (format " + std::to_string(h.index_format) +
                    ", " + std::to_string(h.index_slots) + " slots in " + std::to_string(h.index_length) +
                    " bytes): recreate the region");
  }
  if (params.checkUuid && memcmp(h.uuid, params.expectUuid, sizeof(h.uuid)) != 0) {
    return Fail(failure, "ERR_UUID_MISMATCH",
                path + " holds region " + FormatUuid(h.uuid) + " (node \"" + HeaderNodeName(h) + "\") but " +
                    FormatUuid(params.expectUuid) +
                    " was expected: the region was recreated since; ask its owner for the current one");
  }
  return true;
}

bool CreateOnDax(const RegionCreateParams& p, const struct stat& sb, RegionState* state,
                 RegionFailure* failure) {
  uint64_t deviceSize = 0, align = 0;
  std::string why;
  if (!DaxGeometry(sb.st_rdev, &deviceSize, &align, &why)) {
    return Fail(failure, "ENODEV",
                p.path + " is a character device but " + why +
                    ": give a /dev/daxX.Y device, a file in /dev/shm, or a regular file");
  }
  uint64_t mapLength = 0;
  uint64_t indexBytes = IndexBytes(p.indexSlots, align);
  if (!AlignUp(kRegionHeaderSize + indexBytes + p.capacity, align, &mapLength) || mapLength > deviceSize) {
    uint64_t maxCapacity = deviceSize / align * align;
    maxCapacity = maxCapacity > kRegionHeaderSize ? maxCapacity - kRegionHeaderSize : 0;
    return Fail(failure, "ENOSPC",
                "device " + p.path + " holds " + FormatBytes(deviceSize) + " but a region of capacity " +
                    FormatBytes(p.capacity) + " needs " + FormatBytes(kRegionHeaderSize + p.capacity) +
                    " rounded to its alignment " + FormatBytes(align) + ": choose a capacity of at most " +
                    FormatBytes(maxCapacity));
  }
  CreateGuard guard;
  guard.fd = open(p.path.c_str(), O_RDWR | O_CLOEXEC);  // a device: no O_CREAT, no truncation
  if (guard.fd < 0) return OpenFailure(errno, p.path, "opening for writing", failure);
  if (!LockOrFail(p.path, &guard.lockFd, failure)) return false;
  void* base = nullptr;
  if (!MapOrFail(guard.fd, mapLength, false, RegionKind::kDax, p.path, &base, failure)) return false;
  guard.base = base;
  guard.length = mapLength;
  // A device cannot be O_EXCL-created, so refuse to overwrite a live-looking region instead.
  const auto* old = static_cast<const RegionHeader*>(base);
  if (!p.overwrite && memcmp(old->magic, kRegionMagic, sizeof(kRegionMagic)) == 0) {
    return Fail(failure, "EEXIST",
                "device " + p.path + " already holds region " + FormatUuid(old->uuid) + " of node \"" +
                    HeaderNodeName(*old) + "\": create with overwrite: true to replace it");
  }
  if (p.prefault && !PrefaultOrFail(p.path, base, mapLength, align, failure)) return false;
  FillHeader(&state->header, mapLength, RegionKind::kDax, align, p.nodeName, p.indexSlots, indexBytes);
  WriteHeader(base, state->header);
  state->fd = guard.fd;
  state->lockFd = guard.lockFd;
  state->base = base;
  state->readOnly = false;
  state->kind = RegionKind::kDax;
  guard.Release();
  return true;
}

}  // namespace

const char* RegionKindName(RegionKind kind) {
  switch (kind) {
    case RegionKind::kHugetlbfs:
      return "hugetlbfs";
    case RegionKind::kDax:
      return "dax";
    default:
      return "file";
  }
}

bool CreateRegion(const RegionCreateParams& p, RegionState* state, RegionFailure* failure) {
  if (p.capacity == 0) {
    return Fail(failure, "EINVAL",
                "region " + p.path + ": capacity is 0 bytes; give a positive size (for example -m 1GB)");
  }
  struct stat sb;
  bool exists = stat(p.path.c_str(), &sb) == 0;
  if (exists && S_ISCHR(sb.st_mode)) return CreateOnDax(p, sb, state, failure);
  if (exists && S_ISDIR(sb.st_mode)) return OpenFailure(EISDIR, p.path, "creating", failure);
  if (exists && !S_ISREG(sb.st_mode)) {
    return Fail(failure, "EINVAL", p.path + " exists and is neither a regular file nor a device-dax");
  }
  if (exists && !p.overwrite) return OpenFailure(EEXIST, p.path, "creating", failure);

  std::string dir = DirName(p.path);
  struct stat db;
  if (stat(dir.c_str(), &db) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return FailErrno(failure, err,
                       "directory " + dir + " does not exist: create it (mkdir -p " + dir +
                           ") or choose another path for the region");
    }
    return OpenFailure(err, dir, "looking up directory", failure);
  }
  if (!S_ISDIR(db.st_mode)) return FailErrno(failure, ENOTDIR, dir + " is not a directory: fix the region path");
  FsInfo fs;
  if (int err = ProbeFs(dir, &fs)) return OpenFailure(err, dir, "probing the filesystem of", failure);
  if (p.hugepages && !fs.hugetlbfs) {
    return Fail(failure, "EINVAL",
                "hugepages was requested but " + dir + " is not a hugetlbfs mount: mount one "
                "(mount -t hugetlbfs none " + dir + ") or drop the option");
  }
  RegionKind kind = fs.hugetlbfs ? RegionKind::kHugetlbfs : RegionKind::kFile;
  uint64_t align = fs.hugetlbfs ? fs.blockSize : SystemPageSize();
  uint64_t mapLength = 0;
  uint64_t indexBytes = IndexBytes(p.indexSlots, align);
  if (!AlignUp(kRegionHeaderSize + indexBytes + p.capacity, align, &mapLength)) {
    return Fail(failure, "EINVAL", "region capacity " + std::to_string(p.capacity) + " is too large");
  }

  // Check space before creating anything: a region must be fully backed from the start, or a
  // full /dev/shm shows up later as SIGBUS in whichever process touches the page.
  uint64_t freeBytes = fs.freeBytes;
  if (exists) freeBytes += static_cast<uint64_t>(sb.st_blocks) * 512;  // truncation returns these
  if (mapLength > freeBytes) {
    if (fs.hugetlbfs) {
      return Fail(failure, "ENOSPC",
                  "not enough free huge pages in " + dir + " for region " + p.path + ": asked for " +
                      FormatBytes(mapLength) + ", only " + FormatBytes(freeBytes) +
                      " is free; reserve more (sysctl vm.nr_hugepages) or choose a smaller capacity");
    }
    return Fail(failure, "ENOSPC", NoSpaceMessage(dir, p.path, mapLength, freeBytes));
  }
  uint64_t ram = PhysicalMemoryBytes();
  if (fs.tmpfs && mapLength > ram) {
    return Fail(failure, "ENOMEM",
                "region " + p.path + " of " + FormatBytes(mapLength) +
                    " is too large for this machine: it has " + FormatBytes(ram) +
                    " of physical memory and a tmpfs region must fit in it; choose a smaller capacity");
  }

  CreateGuard guard;
  // Never O_TRUNC: a region still in use must be refused (by its lock) before anything changes.
  int flags = O_RDWR | O_CLOEXEC | O_CREAT | (p.overwrite ? 0 : O_EXCL);
  guard.fd = open(p.path.c_str(), flags, p.mode);
  if (guard.fd < 0) return OpenFailure(errno, p.path, "creating", failure);
  if (!LockOrFail(p.path, &guard.lockFd, failure)) return false;
  if (!exists) guard.unlinkPath = p.path;
  if (exists && ftruncate(guard.fd, 0) != 0) {
    int err = errno;
    return FailErrno(failure, err, "cannot reset region " + p.path + ": " + ErrnoText(err));
  }
  // open() applies the umask; the mode asked for is the mode wanted.
  if (fchmod(guard.fd, p.mode) != 0) {
    int err = errno;
    return FailErrno(failure, err, "cannot set mode of " + p.path + ": " + ErrnoText(err));
  }
  if (kind == RegionKind::kFile) {
    int err = posix_fallocate(guard.fd, 0, static_cast<off_t>(mapLength));
    if (err == ENOSPC) {
      uint64_t nowFree = 0;
      FreeBytes(dir, &nowFree);
      return Fail(failure, "ENOSPC", NoSpaceMessage(dir, p.path, mapLength, nowFree));
    }
    if (err != 0) {
      return FailErrno(failure, err,
                       "cannot allocate " + FormatBytes(mapLength) + " for region " + p.path + ": " + ErrnoText(err));
    }
  } else if (ftruncate(guard.fd, static_cast<off_t>(mapLength)) != 0) {
    // hugetlbfs: no fallocate needed; a MAP_SHARED mapping reserves its huge pages at mmap time.
    int err = errno;
    return FailErrno(failure, err, "cannot size region " + p.path + ": " + ErrnoText(err));
  }

  void* base = nullptr;
  if (!MapOrFail(guard.fd, mapLength, false, kind, p.path, &base, failure)) return false;
  guard.base = base;
  guard.length = mapLength;
  if (p.prefault && !PrefaultOrFail(p.path, base, mapLength, align, failure)) return false;
  FillHeader(&state->header, mapLength, kind, align, p.nodeName, p.indexSlots, indexBytes);
  WriteHeader(base, state->header);
  state->fd = guard.fd;
  state->lockFd = guard.lockFd;
  state->base = base;
  state->readOnly = false;
  state->kind = kind;
  guard.Release();
  return true;
}

bool AttachRegion(const RegionAttachParams& p, RegionState* state, RegionFailure* failure) {
  const char* doing = p.readOnly ? "opening for reading" : "opening for writing";
  int fd = open(p.path.c_str(), (p.readOnly && !p.owner ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      struct stat db;
      std::string dir = DirName(p.path);
      if (stat(dir.c_str(), &db) != 0) {
        return FailErrno(failure, err, "directory " + dir + " does not exist: check the region path " + p.path);
      }
      return FailErrno(failure, err,
                       "region " + p.path + " does not exist: start the store that owns it first, or check the path");
    }
    if (err == EACCES || err == EPERM) {
      return FailErrno(failure, err,
                       "permission denied " + std::string(doing) + " " + p.path + " (uid " + Uid() +
                           "): run as the region's owner" + (p.readOnly ? "" : ", or attach with readOnly: true"));
    }
    return OpenFailure(err, p.path, doing, failure);
  }
  CreateGuard guard;  // never unlinks here: attach does not own the file
  guard.fd = fd;
  if (p.owner && !LockOrFail(p.path, &guard.lockFd, failure)) return false;

  struct stat sb;
  if (fstat(fd, &sb) != 0) return OpenFailure(errno, p.path, "inspecting", failure);
  RegionKind kind = RegionKind::kFile;
  uint64_t size = 0, daxAlign = 0;
  if (S_ISDIR(sb.st_mode)) return OpenFailure(EISDIR, p.path, "attaching", failure);
  if (S_ISCHR(sb.st_mode)) {
    std::string why;
    if (!DaxGeometry(sb.st_rdev, &size, &daxAlign, &why)) {
      return Fail(failure, "ENODEV", p.path + " is a character device but " + why);
    }
    kind = RegionKind::kDax;
  } else if (S_ISREG(sb.st_mode)) {
    size = static_cast<uint64_t>(sb.st_size);
    FsInfo fs;
    if (ProbeFd(fd, &fs) == 0 && fs.hugetlbfs) kind = RegionKind::kHugetlbfs;
  } else {
    return Fail(failure, "EINVAL", p.path + " is neither a regular file nor a device-dax");
  }
  if (size < kRegionHeaderSize) {
    return Fail(failure, "ERR_BAD_MAGIC",
                p.path + " is " + FormatBytes(size) + ", smaller than a region header (" +
                    std::to_string(kRegionHeaderSize) + " bytes): it is not a plasmapool region");
  }

  RegionHeader header;
  if (kind == RegionKind::kDax) {
    // Device-dax has no read(); map one alignment unit to look at the header.
    int err = 0;
    void* head = MapShared(fd, daxAlign, true, &err);
    if (head == nullptr) return FailErrno(failure, err, MapFailureMessage(err, daxAlign, true, "region " + p.path));
    memcpy(&header, head, sizeof(header));
    munmap(head, daxAlign);
  } else {
    ssize_t n = pread(fd, &header, sizeof(header), 0);
    if (n != static_cast<ssize_t>(sizeof(header))) {
      int err = n < 0 ? errno : EIO;
      return FailErrno(failure, err, "cannot read the header of " + p.path + ": " + ErrnoText(err));
    }
  }
  if (!ValidateHeader(header, p.path, size, p, failure)) return false;

  void* base = nullptr;
  if (!MapOrFail(fd, header.map_length, p.readOnly, kind, p.path, &base, failure)) return false;
  state->fd = fd;
  state->lockFd = guard.lockFd;
  state->base = base;
  state->readOnly = p.readOnly;
  state->kind = kind;
  state->header = header;
  guard.Release();
  return true;
}

}  // namespace plasmapool
